// The journal's write path against a real PostgreSQL: optimistic inserts,
// the careful redo after a duplicate event_id, chunking, byte-exact
// envelopes, the writer lock on the writing session, and a lost session.
#include <poll.h>

#include <random>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include <pqxx/pqxx>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/migrate.h"
#include "eck/uuid.h"
#include "eck/v1/envelope.pb.h"
#include "eck/wire.h"
#include "journal.h"
#include "support/broker_process.h"
#include "support/raw_dealer.h"
#include "support/test_pg.h"

namespace eck {
MigrationSet broker_migrations();
}

namespace eck::broker {
namespace {

using namespace std::chrono_literals;

constexpr const char* kProduct = "catalog.ProductUpserted";
constexpr const char* kSale = "pos.SaleCompleted";

Publish pub(const std::string& id, const std::string& topic = kProduct, std::string envelope = "e") {
  return Publish{"peer", id, topic, std::move(envelope)};
}

class BrokerJournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_ = DatabaseOptions{db_.url(), "broker", "eck-journal-test"};
    migrations_ = std::make_unique<Database>(opts_);
    migrate(migrations_->connection(), "broker", {broker_migrations()});
  }
  std::unique_ptr<Journal> open() {
    auto j = std::make_unique<Journal>(*migrations_);
    EXPECT_TRUE(j->try_open());
    return j;
  }
  // seq -> (event_id, topic, prev_topic_seq)
  std::map<std::uint64_t, std::tuple<std::string, std::string, std::uint64_t>> rows() {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    std::map<std::uint64_t, std::tuple<std::string, std::string, std::uint64_t>> out;
    for (const auto& r : tx.exec("SELECT seq, event_id::text, topic, prev_topic_seq FROM broker.journal"))
      out[r[0].as<std::uint64_t>()] = {r[1].as<std::string>(), r[2].as<std::string>(),
                                       r[3].as<std::uint64_t>()};
    return out;
  }
  std::map<std::string, std::uint64_t> db_topic_heads() {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    std::map<std::string, std::uint64_t> out;
    for (const auto& r : tx.exec("SELECT topic, last_seq FROM broker.topic_head"))
      out[r[0].as<std::string>()] = r[1].as<std::uint64_t>();
    return out;
  }
  void expect_gap_free(std::uint64_t head) {
    auto r = rows();
    ASSERT_EQ(r.size(), head);
    std::uint64_t expect = 1;
    for (const auto& [seq, row] : r) EXPECT_EQ(seq, expect++);
  }

  test::TestDatabase db_;
  DatabaseOptions opts_;
  std::unique_ptr<Database> migrations_;
};

TEST_F(BrokerJournalTest, NewEventsGetConsecutiveSequencesAndTopicChains) {
  auto j = open();
  EXPECT_EQ(j->head(), 0u);
  std::vector<Publish> batch{pub(new_uuid_v7()), pub(new_uuid_v7(), kSale), pub(new_uuid_v7())};
  auto res = j->append(batch);
  ASSERT_EQ(res.size(), 3u);
  EXPECT_EQ(res[0].seq, 1u);
  EXPECT_EQ(res[1].seq, 2u);
  EXPECT_EQ(res[2].seq, 3u);
  EXPECT_EQ(res[2].prev_topic_seq, 1u);
  EXPECT_EQ(res[1].prev_topic_seq, 0u);
  for (const auto& r : res) EXPECT_FALSE(r.duplicate);
  EXPECT_EQ(j->head(), 3u);
  EXPECT_EQ(j->topic_heads().at(kProduct), 3u);
  EXPECT_EQ(j->stats().fallbacks, 0u);
  EXPECT_EQ(db_topic_heads(), j->topic_heads());
  EXPECT_EQ(std::get<2>(rows().at(3)), 1u);
}

// A retry storm after a broker crash: a batch mixes ids journaled by an
// earlier session, new ids, and twins of both. The optimistic insert is
// refused by the unique index, the batch is redone the careful way: known
// ids answer with their original seq, new ones get the next seqs without a
// gap, twins get their first's answer.
TEST_F(BrokerJournalTest, BatchWithJournaledIdsFallsBackAndKeepsSequencesGapFree) {
  std::vector<std::string> old;
  for (int i = 0; i < 5; ++i) old.push_back(new_uuid_v7());
  {
    auto j = open();
    std::vector<Publish> first;
    for (int i = 0; i < 5; ++i) first.push_back(pub(old[i], i % 2 ? kSale : kProduct));
    auto res = j->append(first);
    ASSERT_EQ(res[4].seq, 5u);
  }  // the session ends, as with kill -9
  auto j = open();
  ASSERT_EQ(j->head(), 5u);
  const std::string x = new_uuid_v7(), y = new_uuid_v7();
  std::string upper_old3 = old[3];
  for (auto& c : upper_old3) c = static_cast<char>(std::toupper(c));
  std::vector<Publish> batch{
      pub(x, kSale),                   // new: 6
      pub(old[1], kSale, "changed"),   // journaled as 2
      pub(x, kSale),                   // twin of a new one: 6
      pub(upper_old3, kSale),          // journaled as 4 (other spelling)
      pub(y),                          // new: 7
      pub(old[1], kSale),              // twin of a journaled one: 2
      pub(old[0]),                     // journaled as 1
  };
  auto res = j->append(batch);
  ASSERT_EQ(res.size(), batch.size());
  EXPECT_EQ(j->stats().fallbacks, 1u);
  auto expect = [&](std::size_t i, std::uint64_t seq, bool dup) {
    EXPECT_EQ(res[i].seq, seq) << "publish " << i;
    EXPECT_EQ(res[i].duplicate, dup) << "publish " << i;
  };
  expect(0, 6, false);
  expect(1, 2, true);
  expect(2, 6, true);
  expect(3, 4, true);
  expect(4, 7, false);
  expect(5, 2, true);
  expect(6, 1, true);
  EXPECT_EQ(res[0].prev_topic_seq, 4u);  // last pos.SaleCompleted was 4
  EXPECT_EQ(res[4].prev_topic_seq, 5u);  // last catalog.ProductUpserted was 5
  EXPECT_EQ(j->head(), 7u);
  expect_gap_free(7);
  auto r = rows();
  EXPECT_EQ(std::get<0>(r.at(6)), x);
  EXPECT_EQ(std::get<0>(r.at(7)), y);
  EXPECT_EQ(std::get<0>(r.at(2)), old[1]);
  EXPECT_EQ(db_topic_heads(), j->topic_heads());
  EXPECT_EQ(j->topic_heads().at(kSale), 6u);
  EXPECT_EQ(j->topic_heads().at(kProduct), 7u);

  // Only known ids: nothing written, every answer the original.
  res = j->append({pub(x), pub(old[4]), pub(y)});
  expect(0, 6, true);
  expect(1, 5, true);
  expect(2, 7, true);
  EXPECT_EQ(j->head(), 7u);
  // And the journal goes on from there.
  res = j->append({pub(new_uuid_v7())});
  expect(0, 8, false);
  EXPECT_EQ(res[0].prev_topic_seq, 7u);
  expect_gap_free(8);
}

// Chunking by rows (kMaxRowsPerInsert) and by bytes (kMaxBytesPerInsert)
// within one transaction; envelopes of any bytes, up to the broker's 1 MiB
// limit, come back byte for byte.
TEST_F(BrokerJournalTest, LargeBatchesAreChunkedAndEnvelopesStayByteExact) {
  auto j = open();
  std::mt19937 rng(11);
  auto bytes = [&](std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
  };
  std::vector<Publish> batch;
  for (std::size_t i = 0; i < Journal::kMaxRowsPerInsert * 2 + 7; ++i)
    batch.push_back(pub(new_uuid_v7(), i % 3 ? kProduct : kSale, bytes(i % 50)));
  batch[17].envelope = std::string(1, '\0');
  // Enough 1 MiB envelopes to need more than one statement by size.
  const std::size_t big = 1 << 20;
  for (std::size_t i = 0; i < Journal::kMaxBytesPerInsert / big + 3; ++i)
    batch.insert(batch.begin() + static_cast<std::ptrdiff_t>(i), pub(new_uuid_v7(), kSale, bytes(big - i)));
  auto res = j->append(batch);
  ASSERT_EQ(j->head(), batch.size());
  expect_gap_free(batch.size());
  pqxx::connection c(db_.url());
  pqxx::nontransaction tx(c);
  std::size_t checked = 0;
  for (const auto& r : tx.exec("SELECT seq, envelope FROM broker.journal ORDER BY seq")) {
    const std::size_t i = r[0].as<std::uint64_t>() - 1;
    ASSERT_LT(i, batch.size());
    const std::string got = pqxx::binarystring(r[1]).str();
    ASSERT_EQ(got.size(), batch[i].envelope.size()) << "seq " << i + 1;
    ASSERT_TRUE(got == batch[i].envelope) << "seq " << i + 1;
    EXPECT_EQ(res[i].seq, i + 1);
    ++checked;
  }
  EXPECT_EQ(checked, batch.size());
}

// The two halves the ingest loop uses: start() returns at once, finish()
// without blocking reports "not yet" until the commit's answer is in.
TEST_F(BrokerJournalTest, StartAndFinishLetTheCallerWorkWhileABatchCommits) {
  auto j = open();
  std::vector<Publish> batch{pub(new_uuid_v7()), pub(new_uuid_v7(), kSale)};
  j->start(batch);
  EXPECT_TRUE(j->busy());
  EXPECT_THROW(j->start(batch), std::logic_error);
  EXPECT_EQ(j->head(), 0u) << "nothing counts before the commit is confirmed";
  std::vector<Appended> out;
  int rounds = 0;
  while (!j->finish(out, false)) {
    pollfd p{j->socket(), POLLIN, 0};
    ASSERT_GE(::poll(&p, 1, 5000), 1) << "no answer within 5 s";
    ++rounds;
  }
  EXPECT_FALSE(j->busy());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq, 1u);
  EXPECT_EQ(out[1].seq, 2u);
  EXPECT_EQ(j->head(), 2u);
  EXPECT_LT(rounds, 100);
  // And the next batch goes the same way.
  batch = {pub(new_uuid_v7())};
  j->start(batch);
  ASSERT_TRUE(j->finish(out, true));
  EXPECT_EQ(out.at(0).seq, 3u);
  expect_gap_free(3);
}

// The writer lock lives on the session that writes: a second journal cannot
// open while the first is open, and can once the first let go.
TEST_F(BrokerJournalTest, TheWriterLockBelongsToTheWritingSession) {
  auto first = open();
  Database other_db(opts_);
  Journal second(other_db);
  EXPECT_FALSE(second.try_open());
  EXPECT_FALSE(second.is_open());
  pqxx::connection c(db_.url());
  pqxx::nontransaction tx(c);
  auto holder = tx.exec1(
      "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
      "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database "
      "WHERE datname = current_database())");
  EXPECT_EQ(holder[0].as<std::string>(), "eck-journal-test");
  first->reset();
  EXPECT_TRUE(second.try_open());
}

// A session that dies under the journal: the append throws, nothing in
// memory moves, and after reset() + try_open() the journal continues from
// what the database holds.
TEST_F(BrokerJournalTest, ALostSessionThrowsAndReopeningContinuesWithoutGaps) {
  auto j = open();
  j->append({pub(new_uuid_v7()), pub(new_uuid_v7())});
  {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    tx.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
            "'eck-journal-test' AND datname = current_database()");
  }
  std::this_thread::sleep_for(100ms);
  const std::string id = new_uuid_v7();
  EXPECT_THROW(j->append({pub(id)}), JournalError);
  EXPECT_FALSE(j->is_open());
  EXPECT_EQ(j->head(), 2u);
  j->reset();
  ASSERT_TRUE(j->try_open());
  auto res = j->append({pub(id), pub(new_uuid_v7())});
  EXPECT_EQ(res[0].seq, 3u);
  EXPECT_EQ(res[1].seq, 4u);
  expect_gap_free(4);
}

// A commit that hangs (here: behind a table lock) is given up by the
// caller; the server-side session lives on and keeps the writer lock. The
// next try_open() ends that session (it is this journal's own) instead of
// taking it for another broker, and the journal continues gap-free.
TEST_F(BrokerJournalTest, ReopeningEndsOurOwnPreviousSessionThatStillHoldsTheLock) {
  auto j = open();
  j->append({pub(new_uuid_v7())});
  pqxx::connection blocker(db_.url());
  pqxx::work lock(blocker);
  lock.exec("LOCK TABLE broker.topic_head IN ACCESS EXCLUSIVE MODE");
  std::vector<Publish> batch{pub(new_uuid_v7())};
  j->start(batch);
  std::vector<Appended> out;
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(j->finish(out, false)) << "the commit cannot be through while the table is locked";
  j->reset();  // what the broker does when the answer takes too long
  // The old session is stuck on the table lock and still holds the writer
  // lock: the first reopen ends it and asks to be retried.
  EXPECT_THROW(j->try_open(), JournalError);
  lock.abort();
  bool opened = false;
  for (int i = 0; i < 50 && !opened; ++i) {
    try {
      opened = j->try_open();
    } catch (const JournalError&) {
    }
    if (!opened) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(opened);
  EXPECT_EQ(j->head(), 1u) << "the ended session's batch was rolled back";
  auto res = j->append({pub(batch[0].event_id), pub(new_uuid_v7())});
  EXPECT_EQ(res[0].seq, 2u);
  EXPECT_EQ(res[1].seq, 3u);
  expect_gap_free(3);
  // A second journal (another broker) is never taken for our own session.
  Database other_db(opts_);
  Journal other(other_db);
  EXPECT_FALSE(other.try_open());
  EXPECT_TRUE(j->is_open());
}

// End to end: a hung commit is refused UNAVAILABLE after the broker's
// commit timeout, the broker reconnects by itself and the retry is journaled.
TEST(BrokerJournalEndToEnd, AHungCommitIsRefusedAndTheBrokerRecovers) {
  test::TestDatabase db;
  test::BrokerProcess broker(db.url());
  broker.start();
  zmq::context_t ctx;
  test::RawDealer s(ctx, broker.ingest(), std::chrono::seconds(20));
  auto publish = [&](const std::string& id) {
    v1::Envelope env;
    env.set_event_id(id);
    env.mutable_product_upserted()->set_sku("HUNG");
    return s.publish(kProduct, env.SerializeAsString());
  };
  ASSERT_EQ(publish(new_uuid_v7())[1], "ACK");
  const std::string id = new_uuid_v7();
  {
    pqxx::connection blocker(db.url());
    pqxx::work lock(blocker);
    lock.exec("LOCK TABLE broker.topic_head IN ACCESS EXCLUSIVE MODE");
    const auto t0 = std::chrono::steady_clock::now();
    auto nack = publish(id);
    ASSERT_EQ(nack.size(), 5u);
    EXPECT_EQ(nack[1], "NACK");
    EXPECT_EQ(nack[3], "UNAVAILABLE");
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 9s);
  }  // the lock goes
  std::string kind;
  std::vector<std::string> ack;
  for (int i = 0; i < 100 && kind != "ACK"; ++i) {
    ack = publish(id);
    kind = ack[1];
    if (kind != "ACK") std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(kind, "ACK");
  EXPECT_EQ(*wire::get_u64(ack[3]), 2u);
  EXPECT_TRUE(broker.running()) << broker.log();
}

// End to end: an envelope just under max_event_bytes, with arbitrary bytes
// in an unknown field, is journaled and replayed byte for byte.
TEST(BrokerJournalEndToEnd, AnEnvelopeNearMaxEventBytesReplaysByteExact) {
  test::TestDatabase db;
  test::BrokerProcess broker(db.url());
  broker.start();
  v1::Envelope env;
  const std::string id = new_uuid_v7();
  env.set_event_id(id);
  env.mutable_product_upserted()->set_sku("BIG");
  std::string body = env.SerializeAsString();
  // Field 999, wire type 2 (length-delimited): kept by parsers as unknown.
  const std::size_t limit = 1 << 20;
  std::string blob;
  std::mt19937 rng(3);
  const std::size_t header = 2 + 3;  // tag (2 bytes) + length (3 bytes)
  blob.resize(limit - body.size() - header);
  for (auto& c : blob) c = static_cast<char>(rng());
  const unsigned tag = 999 << 3 | 2;
  body.push_back(static_cast<char>((tag & 0x7f) | 0x80));
  body.push_back(static_cast<char>(tag >> 7));
  std::size_t n = blob.size();
  while (n >= 0x80) {
    body.push_back(static_cast<char>((n & 0x7f) | 0x80));
    n >>= 7;
  }
  body.push_back(static_cast<char>(n));
  body += blob;
  ASSERT_LE(body.size(), limit);
  ASSERT_GT(body.size(), limit - 16);
  v1::Envelope check;
  ASSERT_TRUE(check.ParseFromString(body));

  zmq::context_t ctx;
  test::RawDealer s(ctx, broker.ingest());
  auto exchange = [&](const std::vector<std::string>& frames) { return s.exchange(frames); };
  auto ack = exchange({"ECK1", "PUB", kProduct, body});
  ASSERT_EQ(ack.size(), 5u);
  ASSERT_EQ(ack[1], "ACK") << ack[3] << ": " << ack[4];
  EXPECT_EQ(*wire::get_u64(ack[3]), 1u);
  // A retry of the same bytes is the same event.
  auto again = exchange({"ECK1", "PUB", kProduct, body});
  EXPECT_EQ(*wire::get_u64(again[3]), 1u);
  EXPECT_EQ(again[4], std::string(1, '\1'));

  zmq::socket_t r(ctx, zmq::socket_type::dealer);
  r.set(zmq::sockopt::rcvtimeo, 10000);
  r.set(zmq::sockopt::linger, 0);
  r.connect(broker.replay());
  const std::vector<std::string> req{"ECK1", "REPLAY", "big", wire::u64_frame(1), wire::u32_frame(10)};
  for (std::size_t i = 0; i < req.size(); ++i)
    r.send(zmq::buffer(req[i]), i + 1 < req.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  std::vector<zmq::message_t> ev;
  ASSERT_TRUE(zmq::recv_multipart(r, std::back_inserter(ev)));
  ASSERT_EQ(ev.size(), 6u);
  ASSERT_EQ(ev[1].to_string(), "EVENT");
  EXPECT_EQ(wire::decode_meta(ev[4].to_string_view())->seq, 1u);
  EXPECT_EQ(ev[5].size(), body.size());
  EXPECT_TRUE(ev[5].to_string() == body) << "replayed envelope differs from the published bytes";
  std::vector<zmq::message_t> end;
  ASSERT_TRUE(zmq::recv_multipart(r, std::back_inserter(end)));
  EXPECT_EQ(end[1].to_string(), "END");
}

}  // namespace
}  // namespace eck::broker
