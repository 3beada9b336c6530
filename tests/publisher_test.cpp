// Publisher against a scripted ingest peer: a real ROUTER socket on an
// ipc:// endpoint that answers the way a test tells it to (ACK, NACK,
// UNAVAILABLE, silence, garbage). It keeps a small journal with permanent
// dedupe on event_id, like the real broker, so "each event once" can be
// checked by event_id.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <pqxx/pqxx>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/publisher.h"
#include "eck/uuid.h"
#include "eck/wire.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/test_pg.h"

namespace eck {
namespace {

using namespace std::chrono_literals;

v1::Envelope product(const std::string& sku) {
  v1::Envelope env;
  env.mutable_product_upserted()->set_sku(sku);
  env.mutable_product_upserted()->set_name("Product " + sku);
  return env;
}

class FakeIngest {
 public:
  enum class Answer { kAck, kUnavailable, kReject, kSilent, kHold };
  struct Request {
    std::string event_id;
    std::string topic;
    std::string bytes;
    int attempt = 0;  // 1 for the first time this event_id arrives
  };
  using Policy = std::function<Answer(const Request&)>;

  FakeIngest(std::string endpoint, Policy policy)
      : endpoint_(std::move(endpoint)), policy_(std::move(policy)) {
    thread_ = std::thread([this] { run(); });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return bound_; });
  }
  ~FakeIngest() {
    stop_ = true;
    thread_.join();
  }

  // Answers every held request with ACK on the peer's thread.
  void release_held() { release_ = true; }

  // Sends these frames to the last peer seen before answering anything else.
  void queue_garbage(std::vector<std::vector<std::string>> messages) {
    std::lock_guard lock(mu_);
    garbage_ = std::move(messages);
  }

  std::size_t received() const {
    std::lock_guard lock(mu_);
    return received_;
  }
  std::size_t held() const {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  std::size_t max_unanswered() const {
    std::lock_guard lock(mu_);
    return max_unanswered_;
  }
  std::map<std::string, int> attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }
  std::vector<std::string> journal() const {  // event_ids in seq order
    std::lock_guard lock(mu_);
    return journal_;
  }
  bool bytes_changed() const {
    std::lock_guard lock(mu_);
    return bytes_changed_;
  }

 private:
  void run() {
    zmq::context_t ctx;
    zmq::socket_t sock(ctx, zmq::socket_type::router);
    sock.set(zmq::sockopt::linger, 0);
    sock.bind(endpoint_);
    {
      std::lock_guard lock(mu_);
      bound_ = true;
    }
    cv_.notify_all();
    while (!stop_) {
      if (release_.exchange(false)) {
        std::vector<std::pair<std::string, std::string>> held;
        {
          std::lock_guard lock(mu_);
          held.swap(held_);
        }
        for (auto& [peer, id] : held) ack(sock, peer, id);
      }
      zmq::pollitem_t items[] = {{static_cast<void*>(sock), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, 20ms);
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> f;
      (void)zmq::recv_multipart(sock, std::back_inserter(f));
      ASSERT_EQ(f.size(), 5u);
      const std::string peer = f[0].to_string();
      ASSERT_EQ(f[1].to_string(), "ECK1");
      ASSERT_EQ(f[2].to_string(), "PUB");
      v1::Envelope env;
      ASSERT_TRUE(env.ParseFromString(f[4].to_string()));
      Request r{env.event_id(), f[3].to_string(), f[4].to_string(), 0};
      std::vector<std::vector<std::string>> garbage;
      {
        std::lock_guard lock(mu_);
        ++received_;
        r.attempt = ++attempts_[r.event_id];
        auto [it, fresh] = bytes_.emplace(r.event_id, r.bytes);
        if (!fresh && it->second != r.bytes) bytes_changed_ = true;
        unanswered_.insert(r.event_id);
        max_unanswered_ = std::max(max_unanswered_, unanswered_.size());
        garbage.swap(garbage_);
      }
      for (auto& g : garbage) send(sock, peer, g);
      switch (policy_(r)) {
        case Answer::kAck:
          ack(sock, peer, r.event_id);
          break;
        case Answer::kUnavailable:
          answered(r.event_id);
          send(sock, peer, {"ECK1", "NACK", r.event_id, "UNAVAILABLE", "journal database down"});
          break;
        case Answer::kReject:
          answered(r.event_id);
          send(sock, peer, {"ECK1", "NACK", r.event_id, "BAD_TOPIC", "no such thing"});
          break;
        case Answer::kSilent:
          answered(r.event_id);  // as far as the window goes: it was "lost"
          break;
        case Answer::kHold: {
          std::lock_guard lock(mu_);
          held_.emplace_back(peer, r.event_id);
          break;
        }
      }
    }
  }

  void answered(const std::string& id) {
    std::lock_guard lock(mu_);
    unanswered_.erase(id);
  }

  void ack(zmq::socket_t& sock, const std::string& peer, const std::string& id) {
    std::uint64_t seq;
    bool dup;
    {
      std::lock_guard lock(mu_);
      unanswered_.erase(id);
      auto it = seqs_.find(id);
      dup = it != seqs_.end();
      if (dup) {
        seq = it->second;
      } else {
        journal_.push_back(id);
        seq = journal_.size();
        seqs_[id] = seq;
      }
    }
    send(sock, peer, {"ECK1", "ACK", id, wire::u64_frame(seq), std::string(1, dup ? '\1' : '\0')});
  }

  static void send(zmq::socket_t& sock, const std::string& peer,
                   const std::vector<std::string>& frames) {
    sock.send(zmq::buffer(peer), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i)
      sock.send(zmq::buffer(frames[i]),
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }

  std::string endpoint_;
  Policy policy_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> release_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool bound_ = false;
  std::size_t received_ = 0;
  std::map<std::string, int> attempts_;
  std::map<std::string, std::string> bytes_;
  bool bytes_changed_ = false;
  std::set<std::string> unanswered_;
  std::size_t max_unanswered_ = 0;
  std::vector<std::pair<std::string, std::string>> held_;
  std::vector<std::vector<std::string>> garbage_;
  std::map<std::string, std::uint64_t> seqs_;
  std::vector<std::string> journal_;
  std::thread thread_;
};

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class PublisherTest : public ::testing::Test {
 protected:
  std::string endpoint() const { return "ipc://" + tmp_.file("ingest"); }
  PublisherOptions options() const {
    PublisherOptions o;
    o.endpoint = endpoint();
    o.source = "publisher-test";
    return o;
  }
  test::TempDir tmp_{"eck-publisher-test"};
};

TEST_F(PublisherTest, AcksCarryTheJournalSequence) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  Publisher pub(options());
  std::vector<std::future<Ack>> futures;
  for (int i = 0; i < 50; ++i) futures.push_back(pub.publish(product("sku-" + std::to_string(i))));
  std::set<std::uint64_t> seqs;
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    Ack a = f.get();
    EXPECT_TRUE(is_uuid(a.event_id));
    EXPECT_FALSE(a.duplicate);
    seqs.insert(a.seq);
  }
  EXPECT_EQ(seqs.size(), 50u);
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), 50u);
  EXPECT_TRUE(pub.flush(1s));
  EXPECT_EQ(pub.pending(), 0u);
}

TEST_F(PublisherTest, FillsEnvelopeAttributes) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  Publisher pub(options());
  auto f = pub.publish(product("a"));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  auto id = f.get().event_id;
  EXPECT_EQ(broker.journal(), std::vector<std::string>{id});
  EXPECT_THROW(pub.publish(v1::Envelope{}), std::invalid_argument);
}

TEST_F(PublisherTest, WindowBoundsEventsInFlight) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kHold; });
  auto o = options();
  o.window = 5;
  o.ack_timeout = 60s;  // no resends: the peer holds its answers on purpose
  Publisher pub(o);
  std::vector<std::future<Ack>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(pub.publish(product(std::to_string(i))));
  ASSERT_TRUE(eventually([&] { return broker.held() == 5; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(broker.received(), 5u) << "sent beyond the window";
  EXPECT_EQ(pub.pending(), 8u);
  broker.release_held();
  ASSERT_TRUE(eventually([&] { return broker.held() == 3; }));
  broker.release_held();
  ASSERT_TRUE(pub.flush(10s));
  EXPECT_EQ(broker.received(), 8u);
  EXPECT_LE(broker.max_unanswered(), 5u);
  for (auto& f : futures) EXPECT_NO_THROW(f.get());
}

TEST_F(PublisherTest, BackpressureBlocksPublishWithoutSpool) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kHold; });
  auto o = options();
  o.window = 2;
  o.ack_timeout = 60s;
  Publisher pub(o);
  for (int i = 0; i < 4; ++i) (void)pub.publish(product(std::to_string(i)));  // 2 in flight + 2 queued
  std::atomic<bool> returned{false};
  std::thread t([&] {
    (void)pub.publish(product("blocked"));
    returned = true;
  });
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(returned) << "publish() did not block with window*2 pending";
  broker.release_held();
  ASSERT_TRUE(eventually([&] { return returned.load(); }));
  t.join();
  bool flushed = false;
  for (int i = 0; i < 50 && !flushed; ++i) {
    broker.release_held();
    flushed = pub.flush(200ms);
  }
  EXPECT_TRUE(flushed);
}

TEST_F(PublisherTest, TimeoutResendsTheSameBytes) {
  // The first copy of every event is "lost"; the resend is answered.
  FakeIngest broker(endpoint(), [](const FakeIngest::Request& r) {
    return r.attempt == 1 ? FakeIngest::Answer::kSilent : FakeIngest::Answer::kAck;
  });
  auto o = options();
  o.ack_timeout = 200ms;
  Publisher pub(o);
  std::vector<std::future<Ack>> futures;
  for (int i = 0; i < 10; ++i) futures.push_back(pub.publish(product(std::to_string(i))));
  for (auto& f : futures) ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  for (auto& [id, n] : broker.attempts()) EXPECT_EQ(n, 2) << id;
  EXPECT_FALSE(broker.bytes_changed());
  EXPECT_EQ(broker.journal().size(), 10u);
}

TEST_F(PublisherTest, UnavailableIsRetriedAfterBackoff) {
  FakeIngest broker(endpoint(), [](const FakeIngest::Request& r) {
    return r.attempt <= 3 ? FakeIngest::Answer::kUnavailable : FakeIngest::Answer::kAck;
  });
  auto o = options();
  o.retry_backoff = 50ms;
  o.ack_timeout = 30s;  // only the backoff may cause the resends
  Publisher pub(o);
  auto start = std::chrono::steady_clock::now();
  auto f = pub.publish(product("x"));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);
  Ack a = f.get();
  EXPECT_EQ(broker.attempts().at(a.event_id), 4);
  EXPECT_FALSE(broker.bytes_changed());
}

TEST_F(PublisherTest, FinalNackFailsTheFuture) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kReject; });
  Publisher pub(options());
  auto f = pub.publish(product("bad"));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  try {
    f.get();
    FAIL() << "no PublishError";
  } catch (const PublishError& e) {
    EXPECT_EQ(e.code(), wire::Code::kBadTopic);
    EXPECT_EQ(e.reason(), "no such thing");
    EXPECT_TRUE(is_uuid(e.event_id()));
  }
  EXPECT_TRUE(pub.flush(1s));
  EXPECT_EQ(broker.attempts().size(), 1u);
  EXPECT_EQ(broker.attempts().begin()->second, 1) << "a final NACK must not be retried";
}

TEST_F(PublisherTest, CallbackReportsAckAndError) {
  FakeIngest broker(endpoint(), [](const FakeIngest::Request& r) {
    return r.topic == "catalog.ProductUpserted" ? FakeIngest::Answer::kAck
                                                : FakeIngest::Answer::kReject;
  });
  Publisher pub(options());
  std::mutex mu;
  std::vector<std::string> acked, failed;
  auto cb = [&](const Ack* a, const PublishError* e) {
    std::lock_guard lock(mu);
    if (a) acked.push_back(a->event_id);
    if (e) failed.push_back(e->event_id());
  };
  std::string good = pub.publish(product("ok"), cb);
  v1::Envelope other;
  other.mutable_stock_adjusted()->set_adjustment_id("adj");
  std::string bad = pub.publish(other, cb);
  ASSERT_TRUE(pub.flush(10s));
  std::lock_guard lock(mu);
  EXPECT_EQ(acked, std::vector<std::string>{good});
  EXPECT_EQ(failed, std::vector<std::string>{bad});
}

TEST_F(PublisherTest, RepublishingAnEventIdIsAnsweredAsDuplicate) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  Publisher pub(options());
  v1::Envelope env = product("same");
  env.set_event_id(new_uuid_v7());
  Ack first = pub.publish(env).get();
  Ack second = pub.publish(env).get();
  EXPECT_EQ(first.event_id, second.event_id);
  EXPECT_EQ(first.seq, second.seq);
  EXPECT_FALSE(first.duplicate);
  EXPECT_TRUE(second.duplicate);
  EXPECT_EQ(broker.journal().size(), 1u);
}

TEST_F(PublisherTest, MalformedRepliesAreIgnored) {
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  broker.queue_garbage({
      {"ECK1"},
      {"ECK2", "ACK", "x", std::string(8, '\0'), std::string(1, '\0')},
      {"ECK1", "ACK", "not-in-flight", std::string(8, '\0'), std::string(1, '\0')},
      {"ECK1", "ACK", "short-seq", "123", std::string(1, '\0')},
      {"ECK1", "WHAT", "a", "b", "c"},
      {"ECK1", "NACK", "unknown", "UNAVAILABLE", "?"},
      {"", "", "", "", "", "", ""},
  });
  Publisher pub(options());
  auto f = pub.publish(product("after-garbage"));
  ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(f.get().seq, 1u);
}

TEST_F(PublisherTest, SpoolSurvivesRestartWithoutBroker) {
  const std::string spool = tmp_.file("till.spool");
  auto o = options();
  o.spool_path = spool;
  std::set<std::string> published;
  {
    Publisher pub(o);  // nobody listens on the endpoint
    for (int i = 0; i < 1000; ++i) {
      std::string id = pub.publish(product(std::to_string(i)), [](const Ack*, const PublishError*) {});
      published.insert(id);
    }
    EXPECT_EQ(pub.pending(), 1000u);
    EXPECT_FALSE(pub.flush(100ms));
  }  // the till is switched off with everything unacknowledged
  ASSERT_EQ(published.size(), 1000u);

  // Long enough that nothing is resent because the peer was slow: each
  // event must then reach it exactly once.
  o.ack_timeout = 30s;
  Publisher pub(o);
  EXPECT_EQ(pub.pending(), 1000u);
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  ASSERT_TRUE(pub.flush(60s)) << pub.pending() << " still pending";
  auto journal = broker.journal();
  EXPECT_EQ(journal.size(), 1000u);
  EXPECT_EQ(std::set<std::string>(journal.begin(), journal.end()), published);
  for (auto& [id, n] : broker.attempts()) EXPECT_EQ(n, 1) << id << " sent " << n << " times";

  // Acknowledged events are gone from the spool: a third Publisher has nothing to send.
  Publisher again(o);
  EXPECT_EQ(again.pending(), 0u);
}

TEST_F(PublisherTest, SpooledEventsAreResentInPublishOrder) {
  auto o = options();
  o.spool_path = tmp_.file("order.spool");
  std::vector<std::string> order;
  {
    Publisher pub(o);
    for (int i = 0; i < 20; ++i) order.push_back(pub.publish(product(std::to_string(i)), {}));
  }
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  Publisher pub(o);
  ASSERT_TRUE(pub.flush(10s));
  EXPECT_EQ(broker.journal(), order);
}

TEST_F(PublisherTest, UnopenableSpoolThrows) {
  auto o = options();
  o.spool_path = tmp_.file("no/such/dir/spool");
  EXPECT_THROW(Publisher{o}, std::runtime_error);
}

TEST_F(PublisherTest, MalformedEndpointThrows) {
  auto o = options();
  o.endpoint = "no-such-transport://x";
  EXPECT_THROW(Publisher{o}, zmq::error_t);
}

TEST_F(PublisherTest, BrokerComingLateReceivesEverything) {
  auto o = options();
  o.ack_timeout = 300ms;
  Publisher pub(o);
  std::vector<std::future<Ack>> futures;
  for (int i = 0; i < 100; ++i) futures.push_back(pub.publish(product(std::to_string(i))));
  std::this_thread::sleep_for(500ms);
  FakeIngest broker(endpoint(), [](const auto&) { return FakeIngest::Answer::kAck; });
  ASSERT_TRUE(pub.flush(20s));
  for (auto& f : futures) EXPECT_NO_THROW(f.get());
  EXPECT_EQ(broker.journal().size(), 100u);
}

// ---- against the real broker -------------------------------------------

class PublisherWithBroker : public ::testing::Test {
 protected:
  PublisherOptions options() const {
    PublisherOptions o;
    o.endpoint = broker_.ingest();
    o.source = "publisher-test";
    return o;
  }
  // event_id -> seq, from the journal itself.
  std::map<std::string, std::uint64_t> journal() {
    pqxx::connection c{pg_.url()};
    pqxx::work tx(c);
    std::map<std::string, std::uint64_t> out;
    for (auto r : tx.exec("SELECT event_id::text, seq FROM broker.journal"))
      out.emplace(r[0].as<std::string>(), r[1].as<std::uint64_t>());
    return out;
  }

  test::TestDatabase pg_;
  test::TempDir tmp_{"eck-publisher-test"};
  test::BrokerProcess broker_{pg_.url()};
};

TEST_F(PublisherWithBroker, SpoolDeliversEverythingOnceWhenTheBrokerComesBack) {
  auto o = options();
  o.spool_path = tmp_.file("till.spool");
  std::set<std::string> published;
  {
    Publisher pub(o);  // the broker is not running
    for (int i = 0; i < 1000; ++i) published.insert(pub.publish(product(std::to_string(i)), {}));
  }
  broker_.start();
  Publisher pub(o);
  ASSERT_TRUE(pub.flush(60s)) << pub.pending() << " pending";
  auto j = journal();
  EXPECT_EQ(j.size(), 1000u);
  std::set<std::string> journaled;
  for (auto& [id, seq] : j) journaled.insert(id);
  EXPECT_EQ(journaled, published);
}

TEST_F(PublisherWithBroker, KillingTheBrokerMidStreamLosesAndDuplicatesNothing) {
  broker_.start();
  auto o = options();
  o.ack_timeout = 500ms;
  Publisher pub(o);
  std::vector<std::future<Ack>> futures;
  std::thread killer([&] {
    std::this_thread::sleep_for(150ms);
    broker_.kill(SIGKILL);
    std::this_thread::sleep_for(300ms);
    broker_.start();
  });
  for (int i = 0; i < 3000; ++i) futures.push_back(pub.publish(product(std::to_string(i))));
  killer.join();
  ASSERT_TRUE(pub.flush(60s)) << pub.pending() << " pending";
  auto j = journal();
  EXPECT_EQ(j.size(), futures.size());
  for (auto& f : futures) {
    Ack a = f.get();  // never a PublishError: UNAVAILABLE and silence are retried
    ASSERT_TRUE(j.count(a.event_id)) << a.event_id << " acknowledged but not journaled";
    EXPECT_EQ(j.at(a.event_id), a.seq);
  }
}

}  // namespace
}  // namespace eck
