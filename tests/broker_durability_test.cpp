// Guarantee 1 under fire: kill -9 of the broker and a PostgreSQL restart
// while publishers push with retries. Afterwards the journal holds every
// acknowledged event exactly once, under the sequence its ACK named, and no
// event twice. Runs serially: it restarts the shared PostgreSQL cluster.
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/publisher.h"
#include "eck/uuid.h"
#include "support/broker_process.h"
#include "support/raw_dealer.h"
#include "support/test_pg.h"

namespace eck {
namespace {

using namespace std::chrono_literals;

struct Ledger {
  std::mutex mu;
  std::map<std::string, std::uint64_t> acked;  // event_id -> seq
  std::atomic<int> errors{0};
  std::atomic<int> count{0};
};

v1::Envelope event(int publisher, int i) {
  v1::Envelope env;
  auto* p = env.mutable_product_upserted();
  p->set_sku("P" + std::to_string(publisher) + "-" + std::to_string(i));
  p->set_name(std::string(150, 'n'));
  return env;
}

// Publishes `per_publisher` events from each of `publishers` threads while
// `disturb` runs on this thread; returns once all are answered.
void publish_while(const std::string& endpoint, int publishers, int per_publisher, Ledger& ledger,
                   const std::function<void()>& disturb) {
  std::vector<std::unique_ptr<Publisher>> pubs;
  for (int p = 0; p < publishers; ++p) {
    PublisherOptions o;
    o.endpoint = endpoint;
    o.ack_timeout = 1000ms;
    o.window = 500;
    pubs.push_back(std::make_unique<Publisher>(o));
  }
  std::vector<std::thread> threads;
  for (int p = 0; p < publishers; ++p)
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_publisher; ++i)
        pubs[p]->publish(event(p, i), [&](const Ack* ack, const PublishError* err) {
          if (err) {
            ++ledger.errors;
            return;
          }
          std::lock_guard lock(ledger.mu);
          auto [it, fresh] = ledger.acked.emplace(ack->event_id, ack->seq);
          if (!fresh) {
            EXPECT_EQ(it->second, ack->seq) << "two acks, two sequences for " << ack->event_id;
          }
          ++ledger.count;
        });
    });
  disturb();
  for (auto& t : threads) t.join();
  for (auto& p : pubs) ASSERT_TRUE(p->flush(120s)) << "publisher did not drain";
}

void expect_journal_matches(const std::string& url, Ledger& ledger, std::size_t expected) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  auto r = tx.exec1("SELECT count(*), count(DISTINCT event_id), coalesce(min(seq),0), coalesce(max(seq),0) FROM broker.journal");
  EXPECT_EQ(r[0].as<std::size_t>(), expected);
  EXPECT_EQ(r[1].as<std::size_t>(), expected) << "an event is in the journal twice";
  EXPECT_EQ(r[2].as<std::uint64_t>(), 1u);
  EXPECT_EQ(r[3].as<std::uint64_t>(), expected) << "sequence numbers have gaps";
  std::map<std::string, std::uint64_t> journal;
  for (const auto& row : tx.exec("SELECT event_id::text, seq FROM broker.journal"))
    journal.emplace(row[0].as<std::string>(), row[1].as<std::uint64_t>());
  EXPECT_EQ(ledger.acked.size(), expected);
  std::size_t mismatched = 0;
  for (const auto& [id, seq] : ledger.acked) {
    auto it = journal.find(id);
    if (it == journal.end() || it->second != seq) ++mismatched;
  }
  EXPECT_EQ(mismatched, 0u) << "acknowledged events missing or under another sequence";
}

TEST(BrokerDurability, KillNineOfTheBrokerLosesNoAcknowledgedEvent) {
  test::TestDatabase db;
  test::BrokerProcess broker(db.url());
  broker.start();
  Ledger ledger;
  publish_while(broker.ingest(), 4, 5000, ledger, [&] {
    for (int round = 0; round < 2; ++round) {
      const int before = ledger.count.load();
      while (ledger.count.load() < before + 3000) std::this_thread::sleep_for(1ms);
      broker.kill(SIGKILL);
      std::this_thread::sleep_for(300ms);
      broker.start();
    }
  });
  EXPECT_EQ(ledger.errors.load(), 0);
  expect_journal_matches(db.url(), ledger, 20000);
}

TEST(BrokerDurability, PostgresRestartMidStreamLosesNoAckAndTheBrokerRecoversUnaided) {
  test::TestDatabase db;
  test::BrokerProcess broker(db.url());
  broker.start();
  Ledger ledger;
  publish_while(broker.ingest(), 2, 4000, ledger, [&] {
    while (ledger.count.load() < 2000) std::this_thread::sleep_for(1ms);
    test::kill_postgres();
    std::this_thread::sleep_for(1500ms);
    test::start_postgres();
  });
  EXPECT_EQ(ledger.errors.load(), 0);
  EXPECT_TRUE(broker.running()) << "the broker must ride out a database outage";
  expect_journal_matches(db.url(), ledger, 8000);
}

TEST(BrokerDurability, WhileTheDatabaseIsDownPublishersHearUnavailable) {
  test::TestDatabase db;
  test::BrokerProcess broker(db.url());
  broker.start();
  zmq::context_t ctx;
  test::RawDealer s(ctx, broker.ingest());
  auto publish = [&](const std::string& id) {
    v1::Envelope env = event(0, 0);
    env.set_event_id(id);
    return s.publish("catalog.ProductUpserted", env.SerializeAsString());
  };
  ASSERT_EQ(publish(new_uuid_v7())[1], "ACK");
  test::kill_postgres();
  std::string id = new_uuid_v7();
  auto nack = publish(id);
  EXPECT_EQ(nack[1], "NACK");
  EXPECT_EQ(nack[3], "UNAVAILABLE");
  test::start_postgres();
  // The broker reconnects by itself; the retry of the same id is accepted once.
  std::string kind;
  for (int i = 0; i < 100 && kind != "ACK"; ++i) {
    auto r = publish(id);
    kind = r[1];
    if (kind != "ACK") std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(kind, "ACK");
  EXPECT_TRUE(broker.running());
}

}  // namespace
}  // namespace eck
