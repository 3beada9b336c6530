// Consumer against a scripted broker (a real XPUB for the live feed and a
// real ROUTER for replay, on ipc:// endpoints) and a real PostgreSQL. The
// scripted broker keeps a journal and serves replay from it faithfully, but
// the test decides what reaches the live feed, so lost messages, lost tails,
// duplicates, stale replay answers and garbage can be produced on purpose.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <pqxx/pqxx>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/consumer.h"
#include "eck/db.h"
#include "eck/events.h"
#include "eck/migrate.h"
#include "eck/publisher.h"
#include "eck/uuid.h"
#include "eck/wire.h"
#include "support/sample_events.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/scripted_broker.h"
#include "support/test_pg.h"

namespace eck {
namespace {

v1::Envelope product(const std::string& sku) { return test::product(sku, "consumer-test"); }
v1::Envelope adjustment(const std::string& id) { return test::adjustment(id, "consumer-test"); }


using namespace std::chrono_literals;
using test::ScriptedBroker;
using Frames = ScriptedBroker::Frames;


constexpr const char* kSchema = "consumer_t";

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pqxx::connection su{pg_.url()};
    migrate(su, kSchema, {runtime_migrations()});  // creates the schema too
    pqxx::work tx(su);
    tx.exec(std::string("CREATE TABLE ") + kSchema +
            ".applied (id bigserial PRIMARY KEY, seq bigint NOT NULL, event_id text NOT NULL,"
            " sku text NOT NULL, UNIQUE (sku))");
    tx.commit();
  }

  ConsumerOptions options(const std::string& name = "test") const {
    ConsumerOptions o;
    o.name = name;
    o.topics = {"catalog."};
    o.fanout_endpoint = "ipc://" + tmp_.file("fanout");
    o.replay_endpoint = "ipc://" + tmp_.file("replay");
    o.replay_timeout = 500ms;
    return o;
  }

  DatabaseOptions db_options() const { return {pg_.url(), kSchema, "consumer-test"}; }

  // Applies products; "reject*" are refused, "sqlfail*" run a failing
  // statement, "kill*" terminate their own session once (a database outage
  // in the middle of a batch).
  Consumer::Handler handler() {
    return [this](const Event& ev, pqxx::work& tx) {
      ASSERT_TRUE(ev.envelope.has_product_upserted()) << ev.topic;
      const std::string& sku = ev.envelope.product_upserted().sku();
      calls_.push_back(ev.seq);
      if (sku.starts_with("reject")) throw Rejected("unknown product " + sku);
      if (sku.starts_with("sqlfail")) tx.exec("INSERT INTO no_such_table VALUES (1)");
      if (sku.starts_with("kill") && !killed_.exchange(true))
        tx.exec("SELECT pg_terminate_backend(pg_backend_pid())");
      tx.exec_params("INSERT INTO applied (seq, event_id, sku) VALUES ($1, $2, $3)", ev.seq,
                     ev.envelope.event_id(), sku);
    };
  }

  ScriptedBroker& start_broker() {
    broker_ = std::make_unique<ScriptedBroker>(options().fanout_endpoint, options().replay_endpoint);
    return *broker_;
  }

  template <typename Pred>
  bool pump(Consumer& c, Pred done, std::chrono::milliseconds timeout = 15s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      c.poll_once(20ms);
      if (done()) return true;
    }
    return done();
  }

  // Runs until the consumer has considered the whole journal, has been told
  // by replay that this is the head (so it follows the live feed now), and
  // the broker knows it subscribed (so later live messages reach it).
  void catch_up(Consumer& c) {
    ASSERT_TRUE(pump(c, [&] {
      auto head = broker_->head();
      return c.stats().position == head && broker_->subscribed() &&
             broker_->last_end() >= static_cast<std::int64_t>(head);
    })) << "position " << c.stats().position << " head " << broker_->head();
    c.poll_once(50ms);  // takes the END it may not have read yet
  }

  template <typename T = std::int64_t>
  T scalar(const std::string& sql) {
    for (int attempt = 0;; ++attempt) {
      try {
        pqxx::connection c{pg_.url()};
        pqxx::work tx(c);
        tx.exec("SET search_path TO " + std::string(kSchema));
        auto r = tx.exec1(sql);
        return r[0].is_null() ? T{} : r[0].as<T>();
      } catch (const pqxx::broken_connection&) {
        if (attempt > 20) throw;
        std::this_thread::sleep_for(200ms);
      }
    }
  }
  std::vector<std::uint64_t> applied_seqs() {
    std::vector<std::uint64_t> out;
    pqxx::connection c{pg_.url()};
    pqxx::work tx(c);
    for (auto row : tx.exec(std::string("SELECT seq FROM ") + kSchema + ".applied ORDER BY id"))
      out.push_back(row[0].as<std::uint64_t>());
    return out;
  }
  std::uint64_t stored_position(const std::string& name = "test") {
    return scalar<std::uint64_t>(
        "SELECT coalesce(max(position), 0) FROM consumer_position WHERE consumer = '" + name + "'");
  }
  void set_position(const std::string& name, std::uint64_t pos) {
    pqxx::connection c{pg_.url()};
    pqxx::work tx(c);
    tx.exec_params(std::string("INSERT INTO ") + kSchema +
                       ".consumer_position (consumer, position) VALUES ($1, $2)",
                   name, pos);
    tx.commit();
  }

  static std::vector<std::uint64_t> range(std::uint64_t a, std::uint64_t b) {
    std::vector<std::uint64_t> v;
    for (auto i = a; i <= b; ++i) v.push_back(i);
    return v;
  }

  test::TestDatabase pg_;
  test::TempDir tmp_{"eck-consumer-test"};
  std::unique_ptr<ScriptedBroker> broker_;
  std::vector<std::uint64_t> calls_;
  std::atomic<bool> killed_{false};
};

TEST_F(ConsumerTest, CatchesUpFromStoredPositionThenFollowsLive) {
  auto& b = start_broker();
  for (int i = 1; i <= 10; ++i) b.append(product("p" + std::to_string(i)), /*live=*/false);
  set_position("test", 3);
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), range(4, 10));
  EXPECT_EQ(stored_position(), 10u);

  for (int i = 11; i <= 15; ++i) b.append(product("p" + std::to_string(i)));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 15; }));
  EXPECT_EQ(applied_seqs(), range(4, 15));
  EXPECT_EQ(stored_position(), 15u);
  auto s = c.stats();
  EXPECT_EQ(s.applied, 12u);
  EXPECT_EQ(s.dead_lettered, 0u);
  EXPECT_EQ(s.gaps, 0u);
}

TEST_F(ConsumerTest, LiveDuplicatesAreSkippedAndCounted) {
  auto& b = start_broker();
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  b.append(product("a"));
  b.append(product("b"));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 2; }));
  const auto before = c.stats().duplicates;
  b.resend_live(1);
  b.resend_live(2);
  b.append(product("c"));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 3; }));
  EXPECT_EQ(applied_seqs(), range(1, 3));
  EXPECT_EQ(c.stats().duplicates, before + 2);
  EXPECT_EQ(c.stats().gaps, 0u);
}

TEST_F(ConsumerTest, GapInLiveFeedIsRepairedBeforeAnythingNewer) {
  auto& b = start_broker();
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  b.append(product("1"));
  b.append(product("2"), /*live=*/false);  // lost on the way
  b.append(product("3"), /*live=*/false);
  b.append(product("4"));
  b.append(product("5"));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 5; }));
  EXPECT_EQ(applied_seqs(), range(1, 5));  // in order, each once
  EXPECT_GE(c.stats().gaps, 1u);
  EXPECT_EQ(calls_, range(1, 5)) << "the handler saw an event before a missing earlier one";
}

TEST_F(ConsumerTest, LostTailIsDetectedThroughHeartbeat) {
  auto& b = start_broker();
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  b.append(product("1"));
  b.append(product("2"), /*live=*/false);
  b.append(product("3"), /*live=*/false);
  // Nothing else comes live: only the heartbeat tells.
  c.poll_once(300ms);
  EXPECT_EQ(c.stats().position, 1u);
  b.heartbeat();
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 3; }, 5s));
  EXPECT_EQ(applied_seqs(), range(1, 3));
  EXPECT_EQ(c.stats().gaps, 1u);
}

TEST_F(ConsumerTest, OtherTopicsAdvanceThePositionEventually) {
  auto& b = start_broker();
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  b.append(product("mine"));
  for (int i = 0; i < 5; ++i) b.append(adjustment("adj" + std::to_string(i)));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 6; }));
  EXPECT_EQ(applied_seqs(), std::vector<std::uint64_t>{1});
  // Stored without any further event of ours, once idle.
  ASSERT_TRUE(pump(c, [&] { return stored_position() == 6; }, 5s));
}

TEST_F(ConsumerTest, ReplayFiltersByPrefixOnCatchUp) {
  auto& b = start_broker();
  b.append(product("a"), false);
  b.append(adjustment("x"), false);
  b.append(product("b"), false);
  b.append(adjustment("y"), false);
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(stored_position(), 4u);
}

TEST_F(ConsumerTest, RejectedEventsAreDeadLetteredAndTheRestApplied) {
  auto& b = start_broker();
  b.append(product("ok1"), false);
  b.append(product("reject-me"), false);
  b.append(product("ok2"), false);
  b.append(product("sqlfail"), false);
  b.append(product("ok3"), false);
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), (std::vector<std::uint64_t>{1, 3, 5}));
  EXPECT_EQ(stored_position(), 5u);
  EXPECT_EQ(scalar("SELECT count(*) FROM dead_letter"), 2);
  EXPECT_EQ(scalar<std::string>("SELECT reason FROM dead_letter WHERE seq = 2"),
            "unknown product reject-me");
  EXPECT_NE(scalar<std::string>("SELECT reason FROM dead_letter WHERE seq = 4").find("no_such_table"),
            std::string::npos);
  EXPECT_EQ(scalar<std::string>("SELECT topic FROM dead_letter WHERE seq = 2"),
            "catalog.ProductUpserted");
  EXPECT_EQ(scalar("SELECT count(*) FROM dead_letter WHERE consumer = 'test' AND length(envelope) > 0"),
            2);
  auto s = c.stats();
  EXPECT_EQ(s.applied, 3u);
  EXPECT_EQ(s.dead_lettered, 2u);
}

TEST_F(ConsumerTest, DatabaseOutageInTheMiddleOfABatchLosesAndDuplicatesNothing) {
  auto& b = start_broker();
  b.append(product("a"), false);
  b.append(product("b"), false);
  b.append(product("kill"), false);  // the session dies here, mid-batch
  b.append(product("c"), false);
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_TRUE(killed_);
  // The first attempt ran a and b, then broke: had its effects or position
  // survived, a and b would be here twice or c missing.
  EXPECT_EQ(applied_seqs(), range(1, 4));
  EXPECT_EQ(stored_position(), 4u);
  EXPECT_EQ(c.stats().dead_lettered, 0u);
}

TEST_F(ConsumerTest, RestartResumesFromStoredPosition) {
  auto& b = start_broker();
  {
    Database db(db_options());
    Consumer c(options(), db, handler());
    catch_up(c);
    for (int i = 1; i <= 5; ++i) b.append(product("first" + std::to_string(i)));
    ASSERT_TRUE(pump(c, [&] { return c.stats().position == 5; }));
  }
  for (int i = 1; i <= 5; ++i) b.append(product("second" + std::to_string(i)));
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), range(1, 10));
  EXPECT_EQ(stored_position(), 10u);
}

TEST_F(ConsumerTest, SmallBatchesStillApplyEverythingInOrder) {
  auto& b = start_broker();
  for (int i = 1; i <= 50; ++i) b.append(product("p" + std::to_string(i)), false);
  b.append(product("reject-7"), false);
  Database db(db_options());
  auto o = options();
  o.max_batch = 7;
  Consumer c(o, db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), range(1, 50));
  EXPECT_EQ(scalar("SELECT count(*) FROM dead_letter"), 1);
  EXPECT_GE(b.requests(), 50 / 7);
}

TEST_F(ConsumerTest, UnansweredReplayIsAskedAgain) {
  auto& b = start_broker();
  for (int i = 1; i <= 3; ++i) b.append(product("p" + std::to_string(i)), false);
  b.ignore_requests(2);
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), range(1, 3));
  EXPECT_GE(b.requests(), 3);
}

TEST_F(ConsumerTest, StaleReplayAnswersAreIgnored) {
  auto& b = start_broker();
  for (int i = 1; i <= 3; ++i) b.append(product("p" + std::to_string(i)), false);
  b.delay_next_request();  // answered after the retry's answer
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  for (int i = 4; i <= 6; ++i) b.append(product("p" + std::to_string(i)));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 6; }));
  c.poll_once(200ms);
  EXPECT_EQ(applied_seqs(), range(1, 6));
}

TEST_F(ConsumerTest, GarbageFromThePeerNeverCrashesNorSkips) {
  auto& b = start_broker();
  b.append(product("p1"), false);
  b.garbage_before_next_answer({
      {"ECK1"},
      {"ECK1", "EVENT", "not-our-request", "t", std::string(16, '\0'), "x"},
      {"ECK1", "EVENT", "test/1", "catalog.ProductUpserted", "short-meta", "x"},  // breaks request 1
  });
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), range(1, 1));

  // Live garbage: wrong frame count, bad meta, undecodable envelope.
  b.live_raw({"catalog.ProductUpserted"});
  b.live_raw({"catalog.ProductUpserted", "bad-meta", "x"});
  const std::uint64_t seq = b.append(product("p2"), /*live=*/false);
  b.live_raw({"catalog.ProductUpserted", wire::encode_meta({seq, 1}), "\xff\xff\xff not protobuf"});
  b.append(product("p3"));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == 3; }));
  EXPECT_EQ(applied_seqs(), range(1, 3));
}

TEST_F(ConsumerTest, UndecodableJournaledEventIsDeadLettered) {
  auto& b = start_broker();
  b.append(product("p1"), false);
  b.append("catalog.ProductUpserted", "\xff\xff\xff not protobuf", false);
  b.append(product("p3"), false);
  Database db(db_options());
  Consumer c(options(), db, handler());
  catch_up(c);
  EXPECT_EQ(applied_seqs(), (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(scalar<std::string>("SELECT reason FROM dead_letter WHERE seq = 2"),
            "envelope does not decode as eck.v1.Envelope");
}

TEST_F(ConsumerTest, TwoInstancesOfOneConsumerNeverApplyTwice) {
  auto& b = start_broker();
  for (int i = 1; i <= 40; ++i) b.append(product("p" + std::to_string(i)), false);
  Database db1(db_options()), db2(db_options());
  auto o = options();
  o.max_batch = 5;
  Consumer c1(o, db1, handler());
  Consumer c2(o, db2, handler());
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until && stored_position() < 40) {
    c1.poll_once(10ms);
    c2.poll_once(10ms);
  }
  EXPECT_EQ(applied_seqs(), range(1, 40));
}

TEST_F(ConsumerTest, RunStopsWhenAsked) {
  start_broker();
  Database db(db_options());
  Consumer c(options(), db, handler());
  int ticks = 0;
  auto start = std::chrono::steady_clock::now();
  c.run([&] { return ticks < 5; }, [&] { ++ticks; }, 50ms);
  EXPECT_EQ(ticks, 5);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

// ---- against the real broker -------------------------------------------

class ConsumerWithBroker : public ConsumerTest {
 protected:
  void SetUp() override {
    ConsumerTest::SetUp();
    test::BrokerOptions bo;
    bo.extra_yaml = "  fanout_hwm: 1000\n";  // the smallest allowed: overflow is easy to cause
    broker = std::make_unique<test::BrokerProcess>(pg_.url(), bo);
    broker->start();
  }
  ConsumerOptions real(const std::string& name = "test") const {
    auto o = options(name);
    o.fanout_endpoint = broker->fanout();
    o.replay_endpoint = broker->replay();
    return o;
  }
  PublisherOptions pub_options() const {
    PublisherOptions o;
    o.endpoint = broker->ingest();
    o.source = "consumer-test";
    return o;
  }
  // Publishes n products (and an adjustment after each third, which the
  // consumer must skip); returns the event_ids of the products in order.
  std::vector<std::string> publish(Publisher& pub, int n, const std::string& tag) {
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) {
      ids.push_back(pub.publish(product(tag + std::to_string(i)), {}));
      if (i % 3 == 2) pub.publish(adjustment(tag + "adj" + std::to_string(i)), {});
    }
    return ids;
  }
  std::vector<std::string> applied_ids() {
    std::vector<std::string> out;
    pqxx::connection c{pg_.url()};
    pqxx::work tx(c);
    for (auto row : tx.exec(std::string("SELECT event_id FROM ") + kSchema + ".applied ORDER BY id"))
      out.push_back(row[0].as<std::string>());
    return out;
  }
  std::uint64_t journal_head() {
    return scalar<std::uint64_t>("SELECT coalesce(max(seq), 0) FROM broker.journal");
  }

  std::unique_ptr<test::BrokerProcess> broker;
};

TEST_F(ConsumerWithBroker, CatchesUpThenFollowsLiveInOrder) {
  Publisher pub(pub_options());
  auto ids = publish(pub, 300, "before");
  ASSERT_TRUE(pub.flush(30s));
  Database db(db_options());
  auto o = real();
  o.max_batch = 64;
  Consumer c(o, db, handler());
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == journal_head(); }, 30s));
  EXPECT_EQ(applied_ids(), ids);

  // Now live, with the consumer polling while events arrive.
  std::atomic<bool> done{false};
  std::vector<std::string> more;
  std::thread producer([&] {
    more = publish(pub, 300, "live");
    pub.flush(30s);
    done = true;
  });
  ASSERT_TRUE(pump(c, [&] { return done && c.stats().position == journal_head(); }, 60s));
  producer.join();
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_EQ(applied_ids(), ids);
  EXPECT_EQ(stored_position(), journal_head());
}

TEST_F(ConsumerWithBroker, LiveFeedOverflowIsRepairedFromReplay) {
  Database db(db_options());
  auto o = real();
  o.rcvhwm = 10;  // the live feed will drop most of what is published meanwhile
  Consumer c(o, db, handler());
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == journal_head(); }));
  c.poll_once(300ms);
  Publisher pub(pub_options());
  // Not polling meanwhile: the broker's and our queues (1000 + 10) overflow.
  auto ids = publish(pub, 2500, "burst");
  ASSERT_TRUE(pub.flush(30s));
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == journal_head(); }, 60s));
  EXPECT_EQ(applied_ids(), ids);
  EXPECT_GE(c.stats().gaps, 1u);
}

TEST_F(ConsumerWithBroker, BrokerRestartLosesNothing) {
  Database db(db_options());
  Consumer c(real(), db, handler());
  Publisher pub(pub_options());
  auto ids = publish(pub, 20, "a");
  ASSERT_TRUE(pub.flush(30s));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == journal_head(); }));
  broker->kill(SIGKILL);
  c.poll_once(300ms);  // the consumer notices nothing but silence
  broker->start();
  auto more = publish(pub, 20, "b");
  ASSERT_TRUE(pub.flush(30s));
  ASSERT_TRUE(pump(c, [&] { return c.stats().position == journal_head(); }, 30s));
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_EQ(applied_ids(), ids);
}

}  // namespace
}  // namespace eck
