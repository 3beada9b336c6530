#include "support/scripted_broker.h"

#include <gtest/gtest.h>

#include <chrono>

#include <zmq_addon.hpp>

#include "eck/events.h"
#include "eck/v1/wire.pb.h"
#include "eck/wire.h"

namespace eck::test {

using namespace std::chrono_literals;

ScriptedBroker::ScriptedBroker(std::string fanout, std::string replay)
    : fanout_ep_(std::move(fanout)), replay_ep_(std::move(replay)) {
  thread_ = std::thread([this] { run(); });
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return bound_; });
}

ScriptedBroker::~ScriptedBroker() {
  stop_ = true;
  thread_.join();
}

std::uint64_t ScriptedBroker::append(const std::string& topic, const std::string& bytes,
                                     bool live) {
  std::lock_guard lock(mu_);
  Row r{journal_.size() + 1, topic, topic_heads_[topic], bytes};
  topic_heads_[topic] = r.seq;
  journal_.push_back(r);
  if (live) commands_.push_back([r](Sockets& s) { send(s.pub, {r.topic, meta(r), r.bytes}); });
  return r.seq;
}

std::uint64_t ScriptedBroker::append(const v1::Envelope& env, bool live) {
  return append(kind_of(env)->topic, env.SerializeAsString(), live);
}

void ScriptedBroker::resend_live(std::uint64_t seq) {
  std::lock_guard lock(mu_);
  Row r = journal_.at(seq - 1);
  commands_.push_back([r](Sockets& s) { send(s.pub, {r.topic, meta(r), r.bytes}); });
}

void ScriptedBroker::live_raw(Frames frames) {
  std::lock_guard lock(mu_);
  commands_.push_back([frames](Sockets& s) { send(s.pub, frames); });
}

void ScriptedBroker::heartbeat(const std::string& journal_id) {
  std::lock_guard lock(mu_);
  const std::uint64_t head = journal_.size();
  std::string payload;
  if (!journal_id.empty()) {
    v1::Heartbeat hb;
    hb.set_head_seq(head);
    hb.set_journal_id(journal_id);
    hb.set_database_up(true);
    payload = hb.SerializeAsString();
  }
  commands_.push_back([head, payload](Sockets& s) {
    send(s.pub, {std::string(wire::kHeartbeatTopic), wire::encode_meta({head, 0}), payload});
  });
}

void ScriptedBroker::garbage_before_next_answer(std::vector<Frames> messages) {
  std::lock_guard lock(mu_);
  garbage_ = std::move(messages);
}

std::uint64_t ScriptedBroker::head() const {
  std::lock_guard lock(mu_);
  return journal_.size();
}

std::string ScriptedBroker::meta(const Row& r) { return wire::encode_meta({r.seq, r.prev}); }

void ScriptedBroker::send(zmq::socket_t& s, const Frames& frames) {
  for (std::size_t i = 0; i < frames.size(); ++i)
    s.send(zmq::buffer(frames[i]),
           i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
}

void ScriptedBroker::run() {
  zmq::context_t ctx;
  zmq::socket_t pub(ctx, zmq::socket_type::xpub);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  pub.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::linger, 0);
  pub.bind(fanout_ep_);
  router.bind(replay_ep_);
  Sockets s{pub, router};
  {
    std::lock_guard lock(mu_);
    bound_ = true;
  }
  cv_.notify_all();
  std::vector<std::vector<zmq::message_t>> delayed;
  while (!stop_) {
    std::deque<std::function<void(Sockets&)>> cmds;
    {
      std::lock_guard lock(mu_);
      cmds.swap(commands_);
    }
    for (auto& c : cmds) c(s);
    zmq::pollitem_t items[] = {{static_cast<void*>(pub), 0, ZMQ_POLLIN, 0},
                               {static_cast<void*>(router), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, 5ms);
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t m;
      (void)pub.recv(m);
      if (m.size() > 0 && m.data<char>()[0] == 1) subscribed_ = true;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      std::vector<zmq::message_t> f;
      (void)zmq::recv_multipart(router, std::back_inserter(f));
      ++requests_;
      if (ignore_ > 0) {
        --ignore_;
        continue;
      }
      if (delay_.exchange(false)) {
        delayed.push_back(std::move(f));
        continue;
      }
      serve(router, f);
      for (auto& d : delayed) serve(router, d);  // stale by now
      delayed.clear();
    }
  }
}

void ScriptedBroker::serve(zmq::socket_t& router, const std::vector<zmq::message_t>& f) {
  ASSERT_GE(f.size(), 6u);
  const std::string peer = f[0].to_string();
  ASSERT_EQ(f[1].to_string(), "ECK1");
  ASSERT_EQ(f[2].to_string(), "REPLAY");
  const std::string id = f[3].to_string();
  const std::uint64_t from = *wire::get_u64(f[4].to_string_view());
  const std::uint32_t max = *wire::get_u32(f[5].to_string_view());
  last_from_ = from;
  std::vector<std::string> prefixes;
  for (std::size_t i = 6; i < f.size(); ++i) prefixes.push_back(f[i].to_string());
  std::vector<Frames> out;
  std::vector<Frames> garbage;
  std::uint64_t head;
  {
    std::lock_guard lock(mu_);
    garbage.swap(garbage_);
    head = journal_.size();
    std::uint64_t scanned = head;
    std::uint32_t n = 0;
    for (std::uint64_t seq = std::max<std::uint64_t>(from, 1); seq <= head; ++seq) {
      const Row& r = journal_[seq - 1];
      if (!wire::matches_any(r.topic, prefixes)) continue;
      out.push_back({peer, "ECK1", "EVENT", id, r.topic, meta(r), r.bytes});
      if (++n == max) {
        scanned = seq;
        break;
      }
    }
    if (from > head + 1) scanned = from - 1;
    out.push_back({peer, "ECK1", "END", id, wire::u64_frame(scanned), wire::u64_frame(head)});
    last_end_ = static_cast<std::int64_t>(scanned);
  }
  for (auto& g : garbage) {
    g.insert(g.begin(), peer);
    send(router, g);
  }
  for (auto& m : out) send(router, m);
}

}  // namespace eck::test
