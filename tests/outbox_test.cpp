// Transactional outbox against a real PostgreSQL and a scripted ingest peer
// (a real ROUTER socket on an ipc:// endpoint that journals with permanent
// dedupe on event_id, like the broker, and can hold its answers or refuse a
// topic).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <pqxx/pqxx>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/db.h"
#include "eck/events.h"
#include "eck/migrate.h"
#include "eck/outbox.h"
#include "eck/uuid.h"
#include "eck/wire.h"
#include "support/sample_events.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/test_pg.h"

namespace eck {
namespace {

using test::adjustment;
using test::product;


using namespace std::chrono_literals;

// What the "broker" has committed, shared by successive peers so that a
// restarted relay meets the journal the first one wrote to.
struct Journal {
  std::mutex mu;
  std::vector<std::string> order;  // event_ids by seq - 1
  std::map<std::string, std::uint64_t> seqs;
  std::map<std::string, int> receptions;

  std::pair<std::uint64_t, bool> commit(const std::string& id) {
    std::lock_guard lock(mu);
    ++receptions[id];
    auto it = seqs.find(id);
    if (it != seqs.end()) return {it->second, true};
    order.push_back(id);
    return {seqs[id] = order.size(), false};
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mu);
    return order;
  }
  std::size_t received() {
    std::lock_guard lock(mu);
    std::size_t n = 0;
    for (auto& [id, k] : receptions) n += static_cast<std::size_t>(k);
    return n;
  }
};

class FakeIngest {
 public:
  enum class Mode { kAck, kHold };
  FakeIngest(std::string endpoint, Journal& journal, Mode mode = Mode::kAck,
             std::string refuse_topic = {})
      : endpoint_(std::move(endpoint)), journal_(journal), mode_(mode),
        refuse_(std::move(refuse_topic)) {
    thread_ = std::thread([this] { run(); });
    while (!bound_) std::this_thread::sleep_for(1ms);
  }
  ~FakeIngest() {
    stop_ = true;
    thread_.join();
  }

 private:
  void run() {
    zmq::context_t ctx;
    zmq::socket_t sock(ctx, zmq::socket_type::router);
    sock.set(zmq::sockopt::linger, 0);
    sock.bind(endpoint_);
    bound_ = true;
    while (!stop_) {
      zmq::pollitem_t items[] = {{static_cast<void*>(sock), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, 10ms);
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> f;
      (void)zmq::recv_multipart(sock, std::back_inserter(f));
      ASSERT_EQ(f.size(), 5u);
      v1::Envelope env;
      ASSERT_TRUE(env.ParseFromString(f[4].to_string()));
      const std::string topic = f[3].to_string();
      std::vector<std::string> reply;
      if (!refuse_.empty() && topic == refuse_) {
        reply = {"ECK1", "NACK", env.event_id(), "BAD_TOPIC", "refused by the test"};
      } else {
        auto [seq, dup] = journal_.commit(env.event_id());
        if (mode_ == Mode::kHold) continue;  // committed, but the answer is lost
        reply = {"ECK1", "ACK", env.event_id(), wire::u64_frame(seq), std::string(1, dup ? 1 : 0)};
      }
      sock.send(f[0], zmq::send_flags::sndmore);
      for (std::size_t i = 0; i < reply.size(); ++i)
        sock.send(zmq::buffer(reply[i]),
                  i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  std::string endpoint_;
  Journal& journal_;
  Mode mode_;
  std::string refuse_;
  std::atomic<bool> bound_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

constexpr const char* kSchema = "outbox_t";

class OutboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pqxx::connection su{pg_.url()};
    migrate(su, kSchema, {runtime_migrations()});  // creates the schema too
  }

  DatabaseOptions db_options(const std::string& app = "outbox-test") const {
    return {pg_.url(), kSchema, app};
  }
  PublisherOptions pub_options() const {
    PublisherOptions o;
    o.endpoint = "ipc://" + tmp_.file("ingest");
    o.ack_timeout = 500ms;
    return o;
  }

  // Enqueues the events in one transaction, committed or rolled back.
  std::vector<std::string> enqueue(std::vector<v1::Envelope> events, bool commit = true) {
    Database db(db_options("outbox-test-producer"));
    pqxx::work tx(db.connection());
    std::vector<std::string> ids;
    for (auto& e : events) ids.push_back(outbox_enqueue(tx, std::move(e), "outbox-test"));
    if (commit) tx.commit();
    return ids;
  }

  struct Row {
    std::string event_id;
    std::optional<std::uint64_t> acked_seq;
    bool acked_at = false;
    std::optional<std::string> rejected;
  };
  std::vector<Row> rows() {
    pqxx::connection c{pg_.url()};
    pqxx::work tx(c);
    std::vector<Row> out;
    for (auto r : tx.exec(std::string("SELECT event_id::text, acked_seq, acked_at IS NOT NULL, rejected"
                                      " FROM ") +
                          kSchema + ".outbox ORDER BY id")) {
      Row row;
      row.event_id = r[0].as<std::string>();
      if (!r[1].is_null()) row.acked_seq = r[1].as<std::uint64_t>();
      row.acked_at = r[2].as<bool>();
      if (!r[3].is_null()) row.rejected = r[3].as<std::string>();
      out.push_back(row);
    }
    return out;
  }

  test::TestDatabase pg_;
  test::TempDir tmp_{"eck-outbox-test"};
  Journal journal_;
};

TEST_F(OutboxTest, EnqueueCompletesTheEnvelope) {
  auto ids = enqueue({product("a")});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(is_uuid(ids[0]));
  pqxx::connection c{pg_.url()};
  pqxx::work tx(c);
  auto r = tx.exec1(std::string("SELECT topic, envelope FROM ") + kSchema + ".outbox");
  EXPECT_EQ(r[0].as<std::string>(), "catalog.ProductUpserted");
  v1::Envelope env;
  ASSERT_TRUE(env.ParseFromString(pqxx::binarystring(r[1]).str()));
  EXPECT_EQ(env.event_id(), ids[0]);
  EXPECT_EQ(env.source(), "outbox-test");
  EXPECT_EQ(env.type(), "eck.v1.ProductUpserted");
  EXPECT_TRUE(env.has_occurred_at());
}

TEST_F(OutboxTest, CommittedRowsArePublishedInOrderAndStamped) {
  FakeIngest ingest(pub_options().endpoint, journal_);
  std::vector<std::string> ids;
  for (int t = 0; t < 3; ++t) {
    std::vector<v1::Envelope> batch;
    for (int i = 0; i < 7; ++i) batch.push_back(product(std::to_string(t) + "-" + std::to_string(i)));
    for (auto& id : enqueue(std::move(batch))) ids.push_back(id);
  }
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  ASSERT_TRUE(relay.drain(20s));
  EXPECT_EQ(journal_.events(), ids);
  auto rs = rows();
  ASSERT_EQ(rs.size(), ids.size());
  for (std::size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].event_id, ids[i]);
    ASSERT_TRUE(rs[i].acked_seq);
    EXPECT_EQ(*rs[i].acked_seq, i + 1);
    EXPECT_TRUE(rs[i].acked_at);
    EXPECT_FALSE(rs[i].rejected);
  }
  auto s = relay.stats();
  EXPECT_EQ(s.published, ids.size());
  EXPECT_EQ(s.pending, 0u);
  EXPECT_EQ(s.rejected, 0u);
}

TEST_F(OutboxTest, RolledBackRowsAreNeverPublished) {
  FakeIngest ingest(pub_options().endpoint, journal_);
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  auto lost = enqueue({product("ghost1"), product("ghost2")}, /*commit=*/false);
  auto kept = enqueue({product("real")});
  ASSERT_TRUE(relay.drain(10s));
  std::this_thread::sleep_for(600ms);  // one more poll round: still nothing else
  EXPECT_EQ(journal_.events(), kept);
  EXPECT_EQ(rows().size(), 1u);
}

TEST_F(OutboxTest, RowsEnqueuedWhileRunningAreRelayed) {
  FakeIngest ingest(pub_options().endpoint, journal_);
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  ASSERT_TRUE(relay.drain(10s));
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(enqueue({product("live" + std::to_string(i))})[0]);
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(relay.drain(10s));
  EXPECT_EQ(journal_.events(), ids);
}

TEST_F(OutboxTest, FinalNackStampsRejectedAndTheRestFlows) {
  FakeIngest ingest(pub_options().endpoint, journal_, FakeIngest::Mode::kAck,
                    "warehouse.StockAdjusted");
  auto ids = enqueue({product("a"), adjustment("poison"), product("b")});
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  ASSERT_TRUE(relay.drain(10s));
  auto rs = rows();
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_TRUE(rs[0].acked_seq);
  EXPECT_FALSE(rs[1].acked_seq);
  ASSERT_TRUE(rs[1].rejected);
  EXPECT_EQ(*rs[1].rejected, "BAD_TOPIC: refused by the test");
  EXPECT_TRUE(rs[2].acked_seq);
  EXPECT_EQ(journal_.events(), (std::vector<std::string>{ids[0], ids[2]}));
  EXPECT_EQ(relay.stats().rejected, 1u);
  EXPECT_EQ(relay.stats().published, 2u);
}

TEST_F(OutboxTest, RestartedRelayRepublishesUnstampedRowsWithTheSameEventId) {
  auto ids = enqueue({product("a"), product("b"), product("c")});
  {
    // The broker commits but its answers never arrive; the relay is stopped
    // (as if killed) between publishing and stamping.
    FakeIngest holding(pub_options().endpoint, journal_, FakeIngest::Mode::kHold);
    OutboxRelay relay(db_options(), pub_options());
    relay.start();
    auto until = std::chrono::steady_clock::now() + 10s;
    while (journal_.events().size() < 3 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(journal_.events(), ids);
    relay.stop();
  }
  for (auto& r : rows()) EXPECT_FALSE(r.acked_seq);

  FakeIngest ingest(pub_options().endpoint, journal_);
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  ASSERT_TRUE(relay.drain(10s));
  EXPECT_EQ(journal_.events(), ids) << "a resend became a second journal entry";
  auto rs = rows();
  for (std::size_t i = 0; i < rs.size(); ++i) {
    ASSERT_TRUE(rs[i].acked_seq);
    EXPECT_EQ(*rs[i].acked_seq, i + 1) << "stamped with a sequence other than the original";
  }
}

TEST_F(OutboxTest, SurvivesLosingItsDatabaseSession) {
  FakeIngest ingest(pub_options().endpoint, journal_);
  OutboxRelay relay(db_options("outbox-test-relay"), pub_options());
  relay.start();
  auto first = enqueue({product("before")});
  ASSERT_TRUE(relay.drain(10s));
  {
    pqxx::connection c{pg_.url()};
    pqxx::work tx(c);
    auto r = tx.exec1(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'outbox-test-relay'");
    EXPECT_GE(r[0].as<int>(), 1);
    tx.commit();
  }
  auto second = enqueue({product("after")});
  ASSERT_TRUE(relay.drain(20s));
  EXPECT_EQ(journal_.events(), (std::vector<std::string>{first[0], second[0]}));
}

TEST_F(OutboxTest, WaitsForABrokerThatComesLate) {
  auto ids = enqueue({product("a"), product("b")});
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  EXPECT_FALSE(relay.drain(700ms));
  FakeIngest ingest(pub_options().endpoint, journal_);
  ASSERT_TRUE(relay.drain(20s));
  EXPECT_EQ(journal_.events(), ids);
}

TEST_F(OutboxTest, StopAndDestroyWithoutStartAreHarmless) {
  OutboxRelay idle(db_options(), pub_options());
  idle.stop();
  OutboxRelay relay(db_options(), pub_options());
  relay.start();
  relay.stop();
  relay.stop();
}

// ---- against the real broker -------------------------------------------

TEST_F(OutboxTest, RealBrokerJournalsRowsInIdOrderWithTheStampedSequences) {
  test::BrokerProcess broker(pg_.url());
  broker.start();
  std::vector<std::string> ids;
  for (int t = 0; t < 5; ++t) {
    std::vector<v1::Envelope> batch;
    for (int i = 0; i < 40; ++i) batch.push_back(product(std::to_string(t) + "/" + std::to_string(i)));
    for (auto& id : enqueue(std::move(batch))) ids.push_back(id);
  }
  auto o = pub_options();
  o.endpoint = broker.ingest();
  OutboxRelay relay(db_options(), o);
  relay.start();
  ASSERT_TRUE(relay.drain(30s));
  pqxx::connection c{pg_.url()};
  pqxx::work tx(c);
  auto r = tx.exec(std::string("SELECT o.event_id::text, o.acked_seq, j.seq FROM ") + kSchema +
                   ".outbox o LEFT JOIN broker.journal j USING (event_id) ORDER BY o.id");
  ASSERT_EQ(r.size(), ids.size());
  std::uint64_t last = 0;
  for (std::size_t i = 0; i < r.size(); ++i) {
    EXPECT_EQ(r[i][0].as<std::string>(), ids[i]);
    ASSERT_FALSE(r[i][2].is_null()) << ids[i] << " not in the journal";
    EXPECT_EQ(r[i][1].as<std::uint64_t>(), r[i][2].as<std::uint64_t>());
    EXPECT_GT(r[i][2].as<std::uint64_t>(), last) << "journal order differs from outbox order";
    last = r[i][2].as<std::uint64_t>();
  }
}

}  // namespace
}  // namespace eck
