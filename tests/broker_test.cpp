// The real eck-broker binary, spoken to with raw ZeroMQ sockets exactly as
// docs/PROTOCOL.md describes, against a real PostgreSQL.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <random>

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/uuid.h"
#include "eck/v1/envelope.pb.h"
#include "eck/v1/wire.pb.h"
#include "eck/wire.h"
#include "support/broker_process.h"
#include "support/raw_dealer.h"
#include "support/test_pg.h"

namespace eck {
namespace {

using namespace std::chrono_literals;
using Frames = std::vector<std::string>;

std::string product(const std::string& id, const std::string& sku = "SKU") {
  v1::Envelope env;
  env.set_event_id(id);
  env.mutable_product_upserted()->set_sku(sku);
  return env.SerializeAsString();
}

std::string sale(const std::string& id) {
  v1::Envelope env;
  env.set_event_id(id);
  env.mutable_sale_completed()->set_sale_id("S-" + id);
  return env.SerializeAsString();
}

using Client = test::RawDealer;

std::uint64_t seq_of(const Frames& ack) {
  EXPECT_EQ(ack.size(), 5u);
  EXPECT_EQ(ack[1], "ACK") << (ack.size() > 4 ? ack[3] + ": " + ack[4] : "");
  return ack.size() == 5 ? *wire::get_u64(ack[3]) : 0;
}

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker_ = std::make_unique<test::BrokerProcess>(db_.url());
    broker_->start();
  }
  std::int64_t count(const std::string& where = "true") {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM broker.journal WHERE " + where)[0].as<std::int64_t>();
  }

  test::TestDatabase db_;
  std::unique_ptr<test::BrokerProcess> broker_;
  zmq::context_t ctx_;
};

TEST_F(BrokerTest, AcksOnlyWhatIsCommittedAndNumbersWithoutGaps) {
  Client c(ctx_, broker_->ingest());
  pqxx::connection conn(db_.url());
  for (std::uint64_t i = 1; i <= 50; ++i) {
    std::string id = new_uuid_v7();
    auto ack = c.publish("catalog.ProductUpserted", product(id));
    ASSERT_EQ(seq_of(ack), i);
    EXPECT_EQ(ack[2], id);
    EXPECT_EQ(ack[4], std::string(1, '\0'));
    // The ACK is out: the row must already be visible to anyone.
    pqxx::nontransaction tx(conn);
    auto row = tx.exec1("SELECT seq FROM broker.journal WHERE event_id = " + tx.quote(id));
    EXPECT_EQ(row[0].as<std::uint64_t>(), i);
  }
}

TEST_F(BrokerTest, SameEventIdTwiceIsOneJournalRowAndTheSameSequence) {
  Client c(ctx_, broker_->ingest());
  std::string id = new_uuid_v7();
  auto first = c.publish("catalog.ProductUpserted", product(id));
  c.publish("catalog.ProductUpserted", product(new_uuid_v7()));
  auto again = c.publish("catalog.ProductUpserted", product(id, "OTHER"));
  EXPECT_EQ(seq_of(first), seq_of(again));
  EXPECT_EQ(again[4], std::string(1, '\1'));
  // Upper-case spelling of the same UUID is the same event.
  std::string upper = id;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(ch));
  EXPECT_EQ(seq_of(c.publish("catalog.ProductUpserted", product(upper))), seq_of(first));
  // Twice within one pipelined burst (likely one batch).
  std::string twin = new_uuid_v7();
  c.send({"ECK1", "PUB", "catalog.ProductUpserted", product(twin)});
  c.send({"ECK1", "PUB", "catalog.ProductUpserted", product(twin)});
  auto a = c.recv(), b = c.recv();
  EXPECT_EQ(seq_of(a), seq_of(b));
  EXPECT_NE(a[4], b[4]) << "exactly one of the two is the duplicate";
  EXPECT_EQ(count("event_id = '" + id + "'"), 1);
  EXPECT_EQ(count("event_id = '" + twin + "'"), 1);
  EXPECT_EQ(count(), 3);
}

TEST_F(BrokerTest, ReplayReturnsExactlyTheStoredRangeInOrder) {
  Client c(ctx_, broker_->ingest());
  std::vector<std::string> topics;
  for (int i = 0; i < 60; ++i) {
    bool is_sale = i % 3 == 0;
    topics.push_back(is_sale ? "pos.SaleCompleted" : "catalog.ProductUpserted");
    seq_of(c.publish(topics.back(), is_sale ? sale(new_uuid_v7()) : product(new_uuid_v7())));
  }
  Client r(ctx_, broker_->replay());
  // From 10, at most 7 events, pos.* only.
  r.send({"ECK1", "REPLAY", "req-1", wire::u64_frame(10), wire::u32_frame(7), "pos."});
  std::vector<std::uint64_t> got;
  Frames f;
  while ((f = r.recv())[1] == "EVENT") {
    EXPECT_EQ(f[2], "req-1");
    EXPECT_EQ(f[3], "pos.SaleCompleted");
    auto meta = wire::decode_meta(f[4]);
    ASSERT_TRUE(meta);
    if (!got.empty()) {
      EXPECT_EQ(meta->prev_topic_seq, got.back());
    }
    got.push_back(meta->seq);
    v1::Envelope env;
    ASSERT_TRUE(env.ParseFromString(f[5]));
    EXPECT_TRUE(env.has_sale_completed());
  }
  ASSERT_EQ(f[1], "END");
  EXPECT_EQ(got, (std::vector<std::uint64_t>{10, 13, 16, 19, 22, 25, 28}));
  EXPECT_EQ(*wire::get_u64(f[3]), 28u);  // scanned_to: stopped at the 7th match
  EXPECT_EQ(*wire::get_u64(f[4]), 60u);  // head

  // Everything from 55, no prefix: 55..60, then END scanned_to = head.
  r.send({"ECK1", "REPLAY", "req-2", wire::u64_frame(55), wire::u32_frame(0)});
  got.clear();
  while ((f = r.recv())[1] == "EVENT") got.push_back(wire::decode_meta(f[4])->seq);
  EXPECT_EQ(got, (std::vector<std::uint64_t>{55, 56, 57, 58, 59, 60}));
  EXPECT_EQ(*wire::get_u64(f[3]), 60u);

  // Past the head: nothing, scanned_to = from - 1.
  r.send({"ECK1", "REPLAY", "req-3", wire::u64_frame(100), wire::u32_frame(10)});
  f = r.recv();
  ASSERT_EQ(f[1], "END");
  EXPECT_EQ(*wire::get_u64(f[3]), 99u);

  // Garbage on the replay endpoint gets an ERROR and the endpoint keeps serving.
  r.send({"ECK1", "REPLAY", "req-4", "short", wire::u32_frame(10)});
  f = r.recv();
  EXPECT_EQ(f[1], "ERROR");
  EXPECT_EQ(f[3], "BAD_FRAMES");
  r.send({"HTTP/1.1"});
  EXPECT_EQ(r.recv()[1], "ERROR");
  r.send({"ECK1", "REPLAY", "req-5", wire::u64_frame(60), wire::u32_frame(10)});
  f = r.recv();
  EXPECT_EQ(f[1], "EVENT");
}

TEST_F(BrokerTest, GarbageGetsAClearNackAndTheBrokerKeepsServing) {
  Client c(ctx_, broker_->ingest());
  auto good = c.publish("catalog.ProductUpserted", product(new_uuid_v7()));
  ASSERT_EQ(seq_of(good), 1u);

  auto nack = [&](const Frames& frames) {
    c.send(frames);
    auto f = c.recv();
    EXPECT_EQ(f[1], "NACK");
    EXPECT_FALSE(f[4].empty()) << "a NACK always says why";
    return f[3];
  };
  std::string id = new_uuid_v7();
  EXPECT_EQ(nack({"ECK9", "PUB", "catalog.ProductUpserted", product(id)}), "BAD_VERSION");
  EXPECT_EQ(nack({"ECK1", "PUBLISH", "catalog.ProductUpserted", product(id)}), "BAD_COMMAND");
  EXPECT_EQ(nack({"ECK1", "PUB", "catalog.ProductUpserted"}), "BAD_FRAMES");
  std::string full = product(id);
  EXPECT_EQ(nack({"ECK1", "PUB", "catalog.ProductUpserted", full.substr(0, full.size() - 3)}), "BAD_ENVELOPE");
  EXPECT_EQ(nack({"ECK1", "PUB", "pos.SaleCompleted", product(id)}), "BAD_TOPIC");
  EXPECT_EQ(nack({"ECK1", "PUB", "catalog.ProductUpserted", product("1234")}), "BAD_EVENT_ID");
  v1::Envelope big;
  big.set_event_id(new_uuid_v7());
  big.mutable_product_upserted()->set_name(std::string(2 << 20, 'x'));
  EXPECT_EQ(nack({"ECK1", "PUB", "catalog.ProductUpserted", big.SerializeAsString()}), "TOO_LARGE");

  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    Frames frames(1 + rng() % 5);
    for (auto& fr : frames) {
      fr.resize(rng() % 40);
      for (auto& ch : fr) ch = static_cast<char>(rng());
    }
    if (rng() % 2) frames[0] = "ECK1";
    c.send(frames);
    EXPECT_EQ(c.recv()[1], "NACK");
  }
  // Still serving, nothing of the garbage journaled, the first event intact.
  EXPECT_EQ(seq_of(c.publish("catalog.ProductUpserted", product(new_uuid_v7()))), 2u);
  EXPECT_EQ(count(), 2);
  EXPECT_TRUE(broker_->running());
}

TEST_F(BrokerTest, FanoutCarriesSequencesAndHeartbeatsCarryTheHead) {
  zmq::socket_t sub(ctx_, zmq::socket_type::sub);
  sub.set(zmq::sockopt::subscribe, "");
  sub.set(zmq::sockopt::rcvtimeo, 5000);
  sub.connect(broker_->fanout());
  // Wait for a heartbeat: proves the subscription is live (no slow joiner).
  std::vector<zmq::message_t> m;
  do {
    m.clear();
    ASSERT_TRUE(zmq::recv_multipart(sub, std::back_inserter(m)));
  } while (m[0].to_string() != wire::kHeartbeatTopic);

  Client c(ctx_, broker_->ingest());
  seq_of(c.publish("catalog.ProductUpserted", product(new_uuid_v7())));
  seq_of(c.publish("pos.SaleCompleted", sale(new_uuid_v7())));
  seq_of(c.publish("catalog.ProductUpserted", product(new_uuid_v7())));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  v1::Heartbeat hb;
  while (true) {
    m.clear();
    ASSERT_TRUE(zmq::recv_multipart(sub, std::back_inserter(m)));
    ASSERT_EQ(m.size(), 3u);
    auto meta = wire::decode_meta(m[1].to_string_view());
    ASSERT_TRUE(meta);
    if (m[0].to_string() == wire::kHeartbeatTopic) {
      ASSERT_TRUE(hb.ParseFromString(m[2].to_string()));
      if (hb.head_seq() == 3) break;
      continue;
    }
    seen.emplace_back(meta->seq, meta->prev_topic_seq);
  }
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{1, 0}, {2, 0}, {3, 1}}));
  EXPECT_TRUE(hb.database_up());
  EXPECT_EQ(hb.topic_heads().at("catalog.ProductUpserted"), 3u);
  EXPECT_EQ(hb.topic_heads().at("pos.SaleCompleted"), 2u);
  EXPECT_FALSE(hb.journal_id().empty());
}

TEST_F(BrokerTest, RestartKeepsTheJournalAndTheDedupe) {
  Client c(ctx_, broker_->ingest());
  std::string id = new_uuid_v7();
  ASSERT_EQ(seq_of(c.publish("catalog.ProductUpserted", product(id))), 1u);
  seq_of(c.publish("catalog.ProductUpserted", product(new_uuid_v7())));
  broker_->kill(SIGKILL);
  broker_->start();
  Client c2(ctx_, broker_->ingest());
  auto again = c2.publish("catalog.ProductUpserted", product(id));
  EXPECT_EQ(seq_of(again), 1u);
  EXPECT_EQ(again[4], std::string(1, '\1'));
  EXPECT_EQ(seq_of(c2.publish("catalog.ProductUpserted", product(new_uuid_v7()))), 3u);
  EXPECT_EQ(broker_->stop(), 0) << broker_->log();
}

TEST_F(BrokerTest, AStandbyBrokerWaitsForTheWriterLockAndTakesOver) {
  test::BrokerProcess standby(db_.url());
  // start() would wait for READY, which a standby must not send: spawn by hand.
  std::thread t([&] { EXPECT_NO_THROW(standby.start()); });
  std::this_thread::sleep_for(1500ms);
  Client c(ctx_, broker_->ingest());
  ASSERT_EQ(seq_of(c.publish("catalog.ProductUpserted", product(new_uuid_v7()))), 1u);
  broker_->kill(SIGKILL);
  t.join();  // the standby became the writer and sent READY
  Client c2(ctx_, standby.ingest());
  EXPECT_EQ(seq_of(c2.publish("catalog.ProductUpserted", product(new_uuid_v7()))), 2u);
}

// A broken config file stops the broker before it touches anything, with the
// file, line and key named; --check-config says the same without starting.
TEST(BrokerConfig, BadFilesAreRefusedWithFileLineAndKey) {
  test::TempDir dir;
  auto run = [&](const std::string& yaml, std::vector<std::string> extra = {}) {
    std::ofstream(dir.file("b.yaml")) << yaml;
    std::vector<std::string> args{"--config", dir.file("b.yaml")};
    args.insert(args.end(), extra.begin(), extra.end());
    test::ChildProcess p(test::build_dir() + "/broker/eck-broker", args, dir.file("out.log"));
    auto st = p.wait_exit(std::chrono::seconds(20));
    EXPECT_TRUE(st && WIFEXITED(*st)) << p.log_contents();
    std::string log = p.log_contents();
    std::remove(dir.file("out.log").c_str());
    return std::make_pair(st && WIFEXITED(*st) ? WEXITSTATUS(*st) : -1, log);
  };
  const std::string ok = "database:\n  url: \"postgresql:///x\"\n";
  auto [rc, out] = run(ok + "broker:\n  ingest: \"tcp://127.0.0.1:1\"\n  ingset: 5\n", {"--check-config"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("b.yaml:5"), std::string::npos) << out;
  EXPECT_NE(out.find("ingset"), std::string::npos) << out;
  std::tie(rc, out) = run(ok + "broker:\n  heartbeat_ms: fast\n");
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("heartbeat_ms"), std::string::npos) << out;
  std::tie(rc, out) = run("database: [unclosed\n", {"--check-config"});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = run("log:\n  level: loud\n" + ok, {"--check-config"});
  EXPECT_EQ(rc, 2);
  EXPECT_NE(out.find("loud"), std::string::npos) << out;
  std::tie(rc, out) = run(std::string("\x01\xff\xfe garbage \x00", 14), {"--check-config"});
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = run(ok, {"--check-config"});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
  std::tie(rc, out) = run(ok, {"--no-such-flag"});
  EXPECT_EQ(rc, 2) << out;
}

}  // namespace
}  // namespace eck
