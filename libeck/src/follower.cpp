// Follower: live feed + replay, one position.
//
// considered_ is the highest sequence we have looked at: every matching
// event up to it has been handed out, in order. Events are handed out only
// in sequence order, from one of two sources:
//   live   the SUB feed, while each event is exactly considered_ + 1;
//   replay a REPLAY request from considered_ + 1. A whole answer (at most
//          max_batch events, then END) is buffered and checked before any
//          of it is handed out, so a stream that breaks off or has a hole
//          (prev_topic_seq names an event we did not get) is asked for
//          again instead of being half-used.
// Live is abandoned for replay on any doubt: a jump in the sequence, a
// heartbeat head past considered_, an undecodable message. While replaying
// the SUB socket is not read; ZeroMQ keeps buffering it, and whatever it holds
// at or below considered_ afterwards is dropped as a duplicate (zguide Clone).
//
// A third mode finds the head after start_at_head(): a replay request from
// far beyond any head (answered with just an END carrying head_seq) and the
// live feed's heartbeats race; the first answer sets considered_.
#include "eck/follower.h"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <optional>
#include <stdexcept>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/v1/wire.pb.h"
#include "eck/wire.h"
#include "replay_client.h"
#include "throttled_warn.h"

namespace eck {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// A replay stream that ended without progress, an ERROR, or no connected
// broker: ask again after this.
constexpr milliseconds kReplayRetry{200};
constexpr milliseconds kReplayErrorRetry{1000};
// from_seq of the request that only asks for the head: beyond any journal,
// and still a positive bigint for a broker that stores it as one.
constexpr std::uint64_t kBeyondAnyHead = std::numeric_limits<std::int64_t>::max();

using detail::ThrottledWarn;

}  // namespace

struct Follower::Impl {
  enum class Mode { kIdle, kFindHead, kReplay, kLive };

  FollowerOptions opts;

  zmq::context_t ctx{1};
  std::optional<zmq::socket_t> sub;
  std::optional<detail::ReplayClient> replay;

  Mode mode = Mode::kIdle;
  std::uint64_t considered_ = 0;
  FollowerStats stats_;

  // The answer to the current replay request, checked before use.
  std::vector<FollowedEvent> answer_;
  std::uint64_t answer_last_ = 0;                                // highest seq in answer_
  std::unordered_map<std::string, std::uint64_t> answer_topic_;  // topic -> last seq in answer_
  Clock::time_point replay_activity_{};
  Clock::time_point replay_not_before_{};
  std::uint64_t hb_head_ = 0;  // highest heartbeat head since the feed was last drained
  std::string journal_id_;     // from heartbeats

  // Room left in the current poll() call.
  std::size_t room_ = 0;

  ThrottledWarn garbage_warn{milliseconds(10000)};
  ThrottledWarn behind_warn{milliseconds(60000)};

  explicit Impl(FollowerOptions o) : opts(std::move(o)) {
    if (opts.name.empty()) opts.name = "follower";
    if (opts.max_batch == 0) opts.max_batch = 1;
  }

  void connect() {
    if (sub) return;
    zmq::socket_t s(ctx, zmq::socket_type::sub);
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::rcvhwm, opts.rcvhwm);
    s.set(zmq::sockopt::reconnect_ivl, 100);
    s.set(zmq::sockopt::reconnect_ivl_max, 2000);
    s.set(zmq::sockopt::heartbeat_ivl, 1000);
    s.set(zmq::sockopt::heartbeat_timeout, 5000);
    // Everything: the gap check needs the whole global sequence.
    s.set(zmq::sockopt::subscribe, "");
    s.connect(opts.fanout_endpoint);
    detail::ReplayClient r(ctx, opts.replay_endpoint, opts.name);
    sub.emplace(std::move(s));
    replay.emplace(std::move(r));
  }

  void start(std::uint64_t position) {
    connect();
    spdlog::debug("follower {}: following from position {}", opts.name, position);
    considered_ = position;
    start_replay();
  }

  void start_at_head() {
    connect();
    considered_ = 0;
    start_replay();
    mode = Mode::kFindHead;
  }

  // ---- polling ------------------------------------------------------------

  std::size_t poll(std::deque<FollowedEvent>& out, milliseconds wait) {
    if (mode == Mode::kIdle) throw std::logic_error("follower: poll() before start()");
    const auto deadline = Clock::now() + std::max(wait, milliseconds(0));
    const std::size_t size_before = out.size();
    for (;;) {
      const std::uint64_t considered_before = considered_;
      room_ = opts.max_batch - std::min(opts.max_batch, out.size() - size_before);
      const bool busy = pass(out);
      if (out.size() != size_before || considered_ != considered_before) break;
      if (Clock::now() >= deadline) break;
      if (!busy && !block(deadline)) break;  // interrupted by a signal
    }
    return out.size() - size_before;
  }

  // One round of work in the current mode. True when it did anything (read
  // a message, changed mode, sent a request), so there may be more to do
  // right away.
  bool pass(std::deque<FollowedEvent>& out) {
    switch (mode) {
      case Mode::kLive:
        return fill_from_live(out);
      case Mode::kReplay:
        return fill_from_replay(out) | drain_live(out);
      case Mode::kFindHead: {
        const bool live = fill_from_live(out);
        if (mode != Mode::kFindHead) return true;
        return fill_from_replay(out) || live;
      }
      case Mode::kIdle:
        break;
    }
    return false;
  }

  // Blocks on the socket(s) of the current mode until something arrives, a
  // timer of ours runs out, or the deadline. False when a signal interrupted.
  bool block(Clock::time_point deadline) {
    auto until = deadline;
    zmq::pollitem_t items[2]{};
    std::size_t n = 0;
    if (mode == Mode::kLive || mode == Mode::kFindHead)
      items[n++] = {static_cast<void*>(*sub), 0, ZMQ_POLLIN, 0};
    if (mode == Mode::kReplay || mode == Mode::kFindHead) {
      if (!replay->outstanding())
        until = std::min(until, replay_not_before_);
      else
        until = std::min(until, replay_activity_ + opts.replay_timeout);
      items[n++] = {static_cast<void*>(replay->socket()), 0, ZMQ_POLLIN, 0};
    }
    auto now = Clock::now();
    if (until <= now) return true;
    auto ms = std::chrono::duration_cast<milliseconds>(until - now) + milliseconds(1);
    try {
      zmq::poll(items, n, ms);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      return false;
    }
    return true;
  }

  // ---- live ---------------------------------------------------------------

  // Reads what the feed has, up to the room left. True when it read
  // anything or switched to replay.
  bool fill_from_live(std::deque<FollowedEvent>& out) {
    bool any = false;
    // Bounded so a firehose of duplicates cannot keep us here forever.
    for (std::size_t n = 0; n < opts.max_batch * 4 + 64; ++n) {
      if (room_ == 0) return true;
      std::vector<zmq::message_t> f;
      if (!recv_live(f)) break;
      any = true;
      if (!take_live(f, out)) return true;  // switched to replay
    }
    if (mode == Mode::kLive && hb_head_ > considered_ && !sub_has_more()) {
      // The broker has committed events we never saw: a lost tail.
      gap("heartbeat head " + std::to_string(hb_head_) + " is past " + std::to_string(considered_));
      return true;
    }
    return any;
  }

  // While replaying, the live feed is read and dropped: replay fetches the
  // same events (and gap repair whatever arrives between replay's end and
  // the first live message kept). Left unread, the SUB queue would fill to
  // its high-water mark, hold memory, and stop libzmq's input: restarting
  // that input under load trips an assertion in libzmq 4.3.4
  // (stream_engine_base.cpp: _input_stopped), which aborts the process.
  bool drain_live(std::deque<FollowedEvent>& out) {
    bool any = false;
    for (std::size_t n = 0; n < 10000; ++n) {
      std::vector<zmq::message_t> f;
      if (!recv_live(f)) break;
      any = true;
      // Heartbeats still count: they carry the journal id.
      if (f.size() == 3 && f[0].to_string_view() == wire::kHeartbeatTopic) {
        if (auto meta = wire::decode_meta(f[1].to_string_view())) take_heartbeat(*meta, f[2], out);
      }
    }
    return any;
  }

  // One whole live message, without waiting; false when none is queued.
  bool recv_live(std::vector<zmq::message_t>& f) {
    for (;;) {
      try {
        return zmq::recv_multipart(*sub, std::back_inserter(f), zmq::recv_flags::dontwait)
            .has_value();
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        f.clear();
      }
    }
  }

  bool sub_has_more() { return (sub->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0; }

  // False when it switched to replay.
  bool take_live(const std::vector<zmq::message_t>& f, std::deque<FollowedEvent>& out) {
    if (f.size() != 3) {
      garbage_warn.warn("follower {}: ignoring live message with {} frames", opts.name, f.size());
      return true;
    }
    auto meta = wire::decode_meta(f[1].to_string_view());
    if (!meta) {
      // Its sequence is unknown, so whether it mattered is unknown: if it was
      // an event, the next one shows the gap.
      garbage_warn.warn("follower {}: ignoring live message with a {}-byte meta frame", opts.name,
                        f[1].size());
      return true;
    }
    const auto topic = f[0].to_string_view();
    if (topic == wire::kHeartbeatTopic) {
      take_heartbeat(*meta, f[2], out);
      return true;
    }
    if (!topic.empty() && topic[0] == '_') return true;  // broker control, not an event
    // Before the head is known there is no position to compare with: the
    // heartbeat or END that tells the head covers this event, or the next
    // live event shows a gap that replay repairs.
    if (mode == Mode::kFindHead) return true;
    const std::uint64_t seq = meta->seq;
    if (seq <= considered_) {
      ++stats_.duplicates;
      return true;
    }
    if (seq != considered_ + 1) {
      gap("live event " + std::to_string(seq) + " after " + std::to_string(considered_));
      return false;
    }
    if (wire::matches_any(topic, opts.topics)) {
      FollowedEvent p;
      p.event.seq = seq;
      p.event.prev_topic_seq = meta->prev_topic_seq;
      p.event.topic = std::string(topic);
      p.event.raw = f[2].to_string();
      if (!p.event.envelope.ParseFromString(p.event.raw)) {
        // Replay fetches it again; if it is undecodable there too, it is
        // handed out from there, marked.
        gap("undecodable live envelope at " + std::to_string(seq));
        return false;
      }
      out.push_back(std::move(p));
      --room_;
    }
    considered_ = seq;
    return true;
  }

  void take_heartbeat(const wire::Meta& meta, const zmq::message_t& payload,
                      std::deque<FollowedEvent>& out) {
    // The head is in the meta frame; the payload is read only to notice a
    // journal that was recreated under us (old heartbeats still queued after
    // a replay may carry a lower head, so the head cannot tell).
    v1::Heartbeat hb;
    if (hb.ParseFromArray(payload.data(), static_cast<int>(payload.size())) &&
        !hb.journal_id().empty()) {
      if (!journal_id_.empty() && hb.journal_id() != journal_id_)
        behind_warn.warn(
            "follower {}: the broker's journal id changed from {} to {}: the journal was "
            "recreated, and positions stored against the old one no longer mean anything",
            opts.name, journal_id_, hb.journal_id());
      journal_id_ = hb.journal_id();
    }
    if (opts.heartbeats) {
      FollowedEvent p;
      p.heartbeat = true;
      p.event.seq = meta.seq;
      p.event.topic = std::string(wire::kHeartbeatTopic);
      p.event.raw = payload.to_string();
      out.push_back(std::move(p));
    }
    if (mode == Mode::kFindHead) {
      found_head(meta.seq, "heartbeat");
      return;
    }
    hb_head_ = std::max(hb_head_, meta.seq);
  }

  void found_head(std::uint64_t head, const char* from) {
    considered_ = head;
    replay->cancel();
    drop_answer();
    mode = Mode::kLive;
    hb_head_ = 0;
    spdlog::info("follower {}: starting at the head, {} (from a {}); following the live feed",
                 opts.name, head, from);
  }

  void gap(const std::string& why) {
    spdlog::info("follower {}: gap ({}); replaying from {}", opts.name, why, considered_ + 1);
    ++stats_.gaps;
    start_replay();
  }

  // ---- replay -------------------------------------------------------------

  void start_replay() {
    mode = Mode::kReplay;
    hb_head_ = 0;
    replay->cancel();
    drop_answer();
    replay_not_before_ = Clock::time_point{};
  }

  void drop_answer() {
    answer_.clear();
    answer_topic_.clear();
    answer_last_ = 0;
  }

  std::uint32_t request_size() const {
    return static_cast<std::uint32_t>(
        std::min<std::size_t>(opts.max_batch, wire::kMaxReplayBatch));
  }

  // Takes what arrived for the current request, then sends or resends one
  // when due. True when it did anything.
  bool fill_from_replay(std::deque<FollowedEvent>& out) {
    bool any = false;
    // Read before judging the timeout: the caller may simply not have polled
    // for a while, and the answer be waiting here.
    while (replay->outstanding()) {
      auto reply = replay->next();
      if (!reply) break;
      any = true;
      replay_activity_ = Clock::now();
      if (auto* ev = std::get_if<detail::ReplayEvent>(&*reply)) {
        if (mode == Mode::kFindHead) continue;  // not asked for; the END still tells the head
        if (!take_replayed(*ev)) return true;
      } else if (auto* end = std::get_if<detail::ReplayEnd>(&*reply)) {
        if (mode == Mode::kFindHead)
          found_head(end->head_seq, "replay answer");
        else
          finish_answer(*end, out);
        return true;
      } else if (auto* err = std::get_if<detail::ReplayError>(&*reply)) {
        spdlog::warn("follower {}: replay from {} refused: {}: {}", opts.name,
                     replay->from_seq(), err->code, err->reason);
        drop_answer();
        replay_not_before_ = Clock::now() + kReplayErrorRetry;
        return true;
      } else {
        garbage_warn.warn("follower {}: replay stream unusable ({}); asking again", opts.name,
                          std::get<detail::ReplayMalformed>(*reply).what);
        drop_answer();
        replay_not_before_ = Clock::now() + kReplayRetry;
        return true;
      }
    }
    const auto now = Clock::now();
    if (replay->outstanding() && now - replay_activity_ > opts.replay_timeout) {
      spdlog::warn("follower {}: replay from {} unanswered for {} ms; asking again", opts.name,
                   replay->from_seq(), opts.replay_timeout.count());
      replay->cancel();
      drop_answer();
    }
    if (!replay->outstanding()) {
      if (now < replay_not_before_) return any;
      const bool sent = mode == Mode::kFindHead
                            ? replay->request(kBeyondAnyHead, 1, opts.topics)
                            : replay->request(considered_ + 1, request_size(), opts.topics);
      if (!sent) {
        replay_not_before_ = now + kReplayRetry;  // no broker connected yet
        return any;
      }
      replay_activity_ = now;
      any = true;
    }
    return any;
  }

  // False when the stream turned out broken (request cancelled).
  bool take_replayed(const detail::ReplayEvent& e) {
    const std::uint64_t seq = e.meta.seq;
    const std::uint64_t floor = std::max(answer_last_, considered_);
    std::string broken;
    if (seq <= floor) {
      broken = "event " + std::to_string(seq) + " out of order";
    } else if (answer_.size() >= request_size()) {
      broken = "more events than asked for";
    } else if (e.meta.prev_topic_seq > considered_) {
      // The previous event of this topic is in the range we asked for, so it
      // must have come in this answer.
      auto it = answer_topic_.find(e.topic);
      if (it == answer_topic_.end() || it->second != e.meta.prev_topic_seq)
        broken = "event " + std::to_string(e.meta.prev_topic_seq) + " of " + e.topic +
                 " missing before " + std::to_string(seq);
    }
    if (!broken.empty()) {
      garbage_warn.warn("follower {}: replay stream unusable ({}); asking again", opts.name, broken);
      replay->cancel();
      drop_answer();
      replay_not_before_ = Clock::now() + kReplayRetry;
      return false;
    }
    answer_last_ = seq;
    answer_topic_[e.topic] = seq;
    // The broker filtered already; an event outside our prefixes is skipped
    // like a non-matching live one.
    if (!wire::matches_any(e.topic, opts.topics)) return true;
    FollowedEvent p;
    p.event.seq = seq;
    p.event.prev_topic_seq = e.meta.prev_topic_seq;
    p.event.topic = e.topic;
    p.event.raw = e.envelope;
    if (!p.event.envelope.ParseFromString(p.event.raw))
      p.undecodable = "envelope does not decode as eck.v1.Envelope";
    answer_.push_back(std::move(p));
    return true;
  }

  void finish_answer(const detail::ReplayEnd& end, std::deque<FollowedEvent>& out) {
    if (end.scanned_to < answer_last_) {
      garbage_warn.warn("follower {}: replay END at {} before its last event {}; asking again",
                        opts.name, end.scanned_to, answer_last_);
      drop_answer();
      replay_not_before_ = Clock::now() + kReplayRetry;
      return;
    }
    for (auto& p : answer_) out.push_back(std::move(p));
    drop_answer();
    const std::uint64_t before = considered_;
    considered_ = std::max(considered_, end.scanned_to);
    if (end.head_seq < before)
      behind_warn.warn(
          "follower {}: the broker's head {} is behind this follower's position {}; was the "
          "journal recreated?",
          opts.name, end.head_seq, before);
    if (considered_ >= end.head_seq) {
      spdlog::info("follower {}: caught up at {}; following the live feed", opts.name, considered_);
      mode = Mode::kLive;
      hb_head_ = 0;
    } else if (considered_ == before) {
      // Nothing scanned although the head is further: do not hammer the broker.
      replay_not_before_ = Clock::now() + kReplayRetry;
    }
  }
};

Follower::Follower(FollowerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}

Follower::~Follower() = default;

void Follower::connect() { impl_->connect(); }

void Follower::start(std::uint64_t position) { impl_->start(position); }

void Follower::start_at_head() { impl_->start_at_head(); }

bool Follower::started() const { return impl_->mode != Impl::Mode::kIdle; }

std::size_t Follower::poll(std::deque<FollowedEvent>& out, std::chrono::milliseconds wait) {
  return impl_->poll(out, wait);
}

std::uint64_t Follower::considered() const { return impl_->considered_; }

bool Follower::caught_up() const { return impl_->mode == Impl::Mode::kLive; }

const std::string& Follower::journal_id() const { return impl_->journal_id_; }

FollowerStats Follower::stats() const { return impl_->stats_; }

}  // namespace eck
