// Follower alone: against a scripted broker (support/scripted_broker.h: a
// real XPUB and ROUTER whose live feed the test controls, so losses,
// duplicates, stale answers and garbage happen on purpose), then against the
// real eck-broker.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "eck/events.h"
#include "eck/follower.h"
#include "eck/publisher.h"
#include "eck/v1/wire.pb.h"
#include "eck/wire.h"
#include "support/sample_events.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/scripted_broker.h"
#include "support/test_pg.h"

namespace eck {
namespace {

v1::Envelope product(const std::string& sku) { return test::product(sku, "follower-test"); }
v1::Envelope adjustment(const std::string& id) { return test::adjustment(id, "follower-test"); }


using namespace std::chrono_literals;
using test::ScriptedBroker;
using Seqs = std::vector<std::uint64_t>;

Seqs range(std::uint64_t a, std::uint64_t b) {
  Seqs v;
  for (auto i = a; i <= b; ++i) v.push_back(i);
  return v;
}

// Drives a Follower and keeps everything it handed out.
class Driver {
 public:
  explicit Driver(FollowerOptions o) : f(std::move(o)) {}

  template <typename Pred>
  bool pump(Pred done, std::chrono::milliseconds timeout = 15s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      poll(20ms);
      if (done()) return true;
    }
    return done();
  }
  void poll(std::chrono::milliseconds wait) {
    std::deque<FollowedEvent> out;
    const auto n = f.poll(out, wait);
    EXPECT_EQ(n, out.size());
    for (auto& e : out) {
      if (e.heartbeat) {
        heartbeats.push_back(std::move(e));
      } else {
        // considered() covers everything handed out.
        EXPECT_LE(e.event.seq, f.considered());
        events.push_back(std::move(e));
      }
    }
  }
  Seqs seqs() const {
    Seqs v;
    for (const auto& e : events) v.push_back(e.event.seq);
    return v;
  }

  Follower f;
  std::vector<FollowedEvent> events;
  std::vector<FollowedEvent> heartbeats;
};

class FollowerTest : public ::testing::Test {
 protected:
  FollowerOptions options() const {
    FollowerOptions o;
    o.name = "test";
    o.topics = {"catalog."};
    o.fanout_endpoint = "ipc://" + tmp_.file("fanout");
    o.replay_endpoint = "ipc://" + tmp_.file("replay");
    o.replay_timeout = 500ms;
    return o;
  }

  ScriptedBroker& start_broker() {
    broker_ = std::make_unique<ScriptedBroker>(options().fanout_endpoint, options().replay_endpoint);
    return *broker_;
  }

  // Until everything journaled is considered, the follower follows live,
  // and the broker knows it subscribed (so later live messages reach it).
  void catch_up(Driver& d) {
    ASSERT_TRUE(d.pump([&] {
      return d.f.caught_up() && d.f.considered() == broker_->head() && broker_->subscribed();
    })) << "considered " << d.f.considered() << " head " << broker_->head();
  }

  test::TempDir tmp_{"eck-follower-test"};
  std::unique_ptr<ScriptedBroker> broker_;
};

TEST_F(FollowerTest, PollBeforeStartIsAnError) {
  Follower f(options());
  std::deque<FollowedEvent> out;
  EXPECT_FALSE(f.started());
  EXPECT_THROW(f.poll(out, 0ms), std::logic_error);
}

TEST_F(FollowerTest, ReplaysFromThePositionThenFollowsLive) {
  auto& b = start_broker();
  for (int i = 1; i <= 10; ++i) b.append(product("p" + std::to_string(i)), /*live=*/false);
  Driver d(options());
  d.f.start(3);
  EXPECT_TRUE(d.f.started());
  EXPECT_FALSE(d.f.caught_up());
  EXPECT_EQ(d.f.considered(), 3u);
  catch_up(d);
  EXPECT_EQ(d.seqs(), range(4, 10));
  EXPECT_EQ(b.last_from(), 4u);

  for (int i = 11; i <= 15; ++i) b.append(product("p" + std::to_string(i)));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 15; }));
  EXPECT_EQ(d.seqs(), range(4, 15));
  for (const auto& e : d.events) {
    EXPECT_EQ(e.event.topic, "catalog.ProductUpserted");
    EXPECT_EQ(e.event.envelope.product_upserted().sku(), "p" + std::to_string(e.event.seq));
    EXPECT_EQ(e.event.raw, e.event.envelope.SerializeAsString());
    EXPECT_TRUE(e.undecodable.empty());
    EXPECT_EQ(e.event.prev_topic_seq, e.event.seq - 1);
  }
  EXPECT_EQ(d.f.stats().gaps, 0u);
  EXPECT_EQ(d.f.stats().duplicates, 0u);
}

TEST_F(FollowerTest, GapInTheLiveFeedIsRepairedInOrder) {
  auto& b = start_broker();
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  b.append(product("1"));
  b.append(product("2"), /*live=*/false);  // lost on the way
  b.append(product("3"), /*live=*/false);
  b.append(product("4"));
  b.append(product("5"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 5; }));
  d.poll(100ms);
  EXPECT_EQ(d.seqs(), range(1, 5)) << "in order, each once";
  EXPECT_EQ(d.f.stats().gaps, 1u);
  EXPECT_TRUE(d.f.caught_up());
}

TEST_F(FollowerTest, LostTailIsNoticedThroughTheHeartbeat) {
  auto& b = start_broker();
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  b.append(product("1"));
  b.append(product("2"), /*live=*/false);
  b.append(product("3"), /*live=*/false);
  // Nothing else comes live: only the heartbeat tells.
  d.poll(300ms);
  EXPECT_EQ(d.f.considered(), 1u);
  b.heartbeat();
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 3; }, 5s));
  EXPECT_EQ(d.seqs(), range(1, 3));
  EXPECT_EQ(d.f.stats().gaps, 1u);
}

TEST_F(FollowerTest, LiveDuplicatesAreSkippedAndCounted) {
  auto& b = start_broker();
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  b.append(product("a"));
  b.append(product("b"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 2; }));
  b.resend_live(1);
  b.resend_live(2);
  b.append(product("c"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 3; }));
  EXPECT_EQ(d.seqs(), range(1, 3));
  EXPECT_EQ(d.f.stats().duplicates, 2u);
  EXPECT_EQ(d.f.stats().gaps, 0u);
}

TEST_F(FollowerTest, OnlyMatchingPrefixesAreHandedOutButEverySeqIsConsidered) {
  auto& b = start_broker();
  b.append(product("a"), false);
  b.append(adjustment("x"), false);
  b.append(product("b"), false);
  b.append(adjustment("y"), false);
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  EXPECT_EQ(d.seqs(), (Seqs{1, 3}));
  EXPECT_EQ(d.f.considered(), 4u);

  // Live: other topics move considered() without handing anything out.
  b.append(adjustment("z"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 5; }));
  b.append(product("c"));
  b.append(adjustment("w"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 7; }));
  EXPECT_EQ(d.seqs(), (Seqs{1, 3, 6}));
  EXPECT_EQ(d.f.stats().gaps, 0u);
}

TEST_F(FollowerTest, SeveralPrefixesAndAllTopics) {
  auto& b = start_broker();
  b.append(product("a"), false);
  b.append(adjustment("x"), false);
  b.append(product("b"), false);
  {
    auto o = options();
    o.topics = {"warehouse.", "catalog.Product"};
    Driver d(o);
    d.f.start(0);
    catch_up(d);
    EXPECT_EQ(d.seqs(), range(1, 3));
  }
  {
    auto o = options();
    o.topics = {};
    Driver d(o);
    d.f.start(1);
    catch_up(d);
    EXPECT_EQ(d.seqs(), range(2, 3));
  }
}

TEST_F(FollowerTest, PollHandsOutAtMostMaxBatchAtOnce) {
  auto& b = start_broker();
  for (int i = 1; i <= 50; ++i) b.append(product("p" + std::to_string(i)), false);
  auto o = options();
  o.max_batch = 7;
  Follower f(o);
  f.start(0);
  std::deque<FollowedEvent> out;
  auto until = std::chrono::steady_clock::now() + 15s;
  while (f.considered() < 50 && std::chrono::steady_clock::now() < until) {
    const auto before = out.size();
    f.poll(out, 20ms);
    EXPECT_LE(out.size() - before, 7u);
  }
  ASSERT_EQ(out.size(), 50u);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].event.seq, i + 1);
  EXPECT_GE(b.requests(), 50 / 7);
}

TEST_F(FollowerTest, UnansweredReplayIsAskedAgain) {
  auto& b = start_broker();
  for (int i = 1; i <= 3; ++i) b.append(product("p" + std::to_string(i)), false);
  b.ignore_requests(2);
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  EXPECT_EQ(d.seqs(), range(1, 3));
  EXPECT_GE(b.requests(), 3);
}

TEST_F(FollowerTest, StaleReplayAnswersAreIgnored) {
  auto& b = start_broker();
  for (int i = 1; i <= 3; ++i) b.append(product("p" + std::to_string(i)), false);
  b.delay_next_request();  // answered after the retry's answer
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  for (int i = 4; i <= 6; ++i) b.append(product("p" + std::to_string(i)));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 6; }));
  d.poll(200ms);
  EXPECT_EQ(d.seqs(), range(1, 6));
}

TEST_F(FollowerTest, GarbageIsIgnoredAndNothingSkipped) {
  auto& b = start_broker();
  b.append(product("p1"), false);
  b.garbage_before_next_answer({
      {"ECK1"},
      {"ECK1", "EVENT", "not-our-request", "t", std::string(16, '\0'), "x"},
      {"ECK1", "EVENT", "test/1", "catalog.ProductUpserted", "short-meta", "x"},  // breaks request 1
  });
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  EXPECT_EQ(d.seqs(), range(1, 1));

  // Live garbage: wrong frame count, bad meta, a broker control topic, an
  // undecodable envelope (the journal has a good one under that seq).
  b.live_raw({"catalog.ProductUpserted"});
  b.live_raw({"catalog.ProductUpserted", "bad-meta", "x"});
  b.live_raw({"_eck.other", wire::encode_meta({99, 0}), "x"});
  const std::uint64_t seq = b.append(product("p2"), /*live=*/false);
  b.live_raw({"catalog.ProductUpserted", wire::encode_meta({seq, 1}), "\xff\xff\xff not protobuf"});
  b.append(product("p3"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 3; }));
  EXPECT_EQ(d.seqs(), range(1, 3));
  for (const auto& e : d.events) EXPECT_TRUE(e.undecodable.empty()) << e.event.seq;
  EXPECT_EQ(d.events[1].event.envelope.product_upserted().sku(), "p2");
}

TEST_F(FollowerTest, UndecodableJournaledEventIsHandedOutMarked) {
  auto& b = start_broker();
  b.append(product("p1"), false);
  b.append("catalog.ProductUpserted", "\xff\xff\xff not protobuf", false);
  b.append(product("p3"), false);
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  ASSERT_EQ(d.seqs(), range(1, 3));
  EXPECT_TRUE(d.events[0].undecodable.empty());
  EXPECT_EQ(d.events[1].undecodable, "envelope does not decode as eck.v1.Envelope");
  EXPECT_EQ(d.events[1].event.raw, "\xff\xff\xff not protobuf");
  EXPECT_EQ(d.events[1].event.topic, "catalog.ProductUpserted");
  EXPECT_TRUE(d.events[2].undecodable.empty());
}

TEST_F(FollowerTest, StartAgainFollowsFromTheNewPosition) {
  auto& b = start_broker();
  for (int i = 1; i <= 6; ++i) b.append(product("p" + std::to_string(i)), false);
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  EXPECT_EQ(d.seqs(), range(1, 6));
  d.events.clear();
  d.f.start(2);  // e.g. the stored position turned out to be 2
  EXPECT_EQ(d.f.considered(), 2u);
  EXPECT_FALSE(d.f.caught_up());
  catch_up(d);
  EXPECT_EQ(d.seqs(), range(3, 6));
  d.events.clear();
  d.f.start(10);  // beyond the head: nothing until the journal gets there
  d.poll(300ms);
  EXPECT_TRUE(d.seqs().empty());
}

TEST_F(FollowerTest, StartAtHeadFromTheReplayAnswer) {
  auto& b = start_broker();
  for (int i = 1; i <= 5; ++i) b.append(product("p" + std::to_string(i)), false);
  Driver d(options());
  d.f.start_at_head();
  EXPECT_FALSE(d.f.caught_up());
  ASSERT_TRUE(d.pump([&] { return d.f.caught_up() && b.subscribed(); }));
  EXPECT_EQ(d.f.considered(), 5u);
  EXPECT_TRUE(d.seqs().empty());
  b.append(product("p6"));
  b.append(product("p7"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 7; }));
  EXPECT_EQ(d.seqs(), range(6, 7));
}

TEST_F(FollowerTest, StartAtHeadFromTheHeartbeat) {
  auto& b = start_broker();
  for (int i = 1; i <= 5; ++i) b.append(product("p" + std::to_string(i)), false);
  b.ignore_requests(1000);  // only the live feed answers
  Driver d(options());
  d.f.start_at_head();
  ASSERT_TRUE(d.pump([&] { return b.subscribed(); }));
  d.poll(100ms);
  EXPECT_FALSE(d.f.caught_up());
  b.heartbeat();
  ASSERT_TRUE(d.pump([&] { return d.f.caught_up(); }));
  EXPECT_EQ(d.f.considered(), 5u);
  b.append(product("p6"));
  ASSERT_TRUE(d.pump([&] { return d.f.considered() == 6; }));
  EXPECT_EQ(d.seqs(), range(6, 6));
}

TEST_F(FollowerTest, HeartbeatsAreHandedOutWhenAskedAndTellTheJournalId) {
  auto& b = start_broker();
  b.append(product("p1"), false);
  auto o = options();
  o.heartbeats = true;
  Driver d(o);
  d.f.start(0);
  catch_up(d);
  EXPECT_EQ(d.f.journal_id(), "");
  b.heartbeat("0193a1b2-0000-7000-8000-000000000001");
  ASSERT_TRUE(d.pump([&] { return !d.heartbeats.empty(); }));
  const auto& hb = d.heartbeats.front();
  EXPECT_EQ(hb.event.topic, "_eck.heartbeat");
  EXPECT_EQ(hb.event.seq, 1u);
  v1::Heartbeat parsed;
  ASSERT_TRUE(parsed.ParseFromString(hb.event.raw));
  EXPECT_EQ(parsed.journal_id(), "0193a1b2-0000-7000-8000-000000000001");
  EXPECT_EQ(d.f.journal_id(), "0193a1b2-0000-7000-8000-000000000001");
  EXPECT_EQ(d.f.considered(), 1u) << "heartbeats do not move considered()";
  EXPECT_EQ(d.seqs(), range(1, 1));
}

TEST_F(FollowerTest, WaitsWhenThereIsNothingAndReturnsEarlyWhenThereIs) {
  auto& b = start_broker();
  Driver d(options());
  d.f.start(0);
  catch_up(d);
  auto t0 = std::chrono::steady_clock::now();
  d.poll(300ms);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 290ms);
  std::thread later([&] {
    std::this_thread::sleep_for(100ms);
    b.append(product("x"));
  });
  t0 = std::chrono::steady_clock::now();
  d.poll(5s);
  const auto took = std::chrono::steady_clock::now() - t0;
  later.join();
  EXPECT_EQ(d.seqs(), range(1, 1));
  EXPECT_LT(took, 3s);
}

// ---- against the real broker -------------------------------------------

class FollowerWithBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    test::BrokerOptions bo;
    bo.extra_yaml = "  fanout_hwm: 1000\n";  // the smallest allowed: overflow is easy to cause
    broker = std::make_unique<test::BrokerProcess>(pg_.url(), bo);
    broker->start();
  }
  FollowerOptions options() const {
    FollowerOptions o;
    o.name = "test";
    o.topics = {"catalog."};
    o.fanout_endpoint = broker->fanout();
    o.replay_endpoint = broker->replay();
    return o;
  }
  PublisherOptions pub_options() const {
    PublisherOptions o;
    o.endpoint = broker->ingest();
    o.source = "follower-test";
    return o;
  }
  // Publishes n products and an adjustment after each third; returns the
  // seqs of the products.
  Seqs publish(Publisher& pub, int n, const std::string& tag) {
    std::vector<std::future<Ack>> acks;
    for (int i = 0; i < n; ++i) {
      acks.push_back(pub.publish(product(tag + std::to_string(i))));
      if (i % 3 == 2) (void)pub.publish(adjustment(tag + "adj" + std::to_string(i)));
    }
    Seqs seqs;
    for (auto& a : acks) seqs.push_back(a.get().seq);
    // Journal order is publish order unless a retry happened.
    std::sort(seqs.begin(), seqs.end());
    return seqs;
  }

  test::TestDatabase pg_;
  std::unique_ptr<test::BrokerProcess> broker;
};

TEST_F(FollowerWithBroker, CatchesUpThenFollowsLiveInOrder) {
  Publisher pub(pub_options());
  auto seqs = publish(pub, 300, "before");
  const auto head = seqs.back();
  auto o = options();
  o.max_batch = 64;
  Driver d(o);
  d.f.start(0);
  ASSERT_TRUE(d.pump([&] { return d.f.caught_up() && d.f.considered() >= head; }, 30s));
  EXPECT_EQ(d.seqs(), seqs);

  std::atomic<bool> done{false};
  Seqs more;
  std::thread producer([&] {
    more = publish(pub, 300, "live");
    done = true;
  });
  ASSERT_TRUE(d.pump([&] { return done && d.f.considered() >= more.back(); }, 60s));
  producer.join();
  seqs.insert(seqs.end(), more.begin(), more.end());
  EXPECT_EQ(d.seqs(), seqs);
  for (const auto& e : d.events) {
    EXPECT_EQ(e.event.topic, "catalog.ProductUpserted");
    EXPECT_TRUE(e.undecodable.empty());
  }
  EXPECT_FALSE(d.f.journal_id().empty()) << "heartbeats carry the journal id";
}

TEST_F(FollowerWithBroker, LiveFeedOverflowIsRepairedFromReplay) {
  auto o = options();
  o.rcvhwm = 10;  // the live feed will drop most of what is published meanwhile
  Driver d(o);
  d.f.start(0);
  ASSERT_TRUE(d.pump([&] { return d.f.caught_up(); }));
  d.poll(300ms);
  Publisher pub(pub_options());
  // Not polling meanwhile: the broker's and our queues (1000 + 10) overflow.
  auto seqs = publish(pub, 2500, "burst");
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(d.pump([&] { return d.f.considered() >= seqs.back(); }, 60s));
  EXPECT_EQ(d.seqs(), seqs);
  EXPECT_GE(d.f.stats().gaps, 1u);
}

TEST_F(FollowerWithBroker, StartAtHeadSkipsThePast) {
  Publisher pub(pub_options());
  auto old = publish(pub, 5, "old");
  Driver d(options());
  d.f.start_at_head();
  ASSERT_TRUE(d.pump([&] { return d.f.caught_up(); }));
  EXPECT_GE(d.f.considered(), old.back());
  auto fresh = publish(pub, 5, "new");
  ASSERT_TRUE(d.pump([&] { return d.f.considered() >= fresh.back(); }));
  EXPECT_EQ(d.seqs(), fresh);
}

}  // namespace
}  // namespace eck
