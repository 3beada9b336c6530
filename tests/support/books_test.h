// BooksTest: the fixture of the library-level tests of a daemon's books (the
// inventory ledger, the pos books) against a real PostgreSQL. Each test gets
// its own database with the daemon's schema and applies events the way the
// consumer does: handle() per event, before_commit(), commit; on an
// exception abort and after_rollback() (eck/consumer.h, TransactionHooks).
// A rejected event must change nothing: rejects() compares every table of
// the books before and after.
//
//   class PosBooks : public eck::test::BooksTest {
//    protected:
//     PosBooks() : BooksTest("pos", {runtime_migrations(), pos_migrations()}, {"sale", "sale_line"}) {}
//     void handle(const Event& ev, pqxx::work& tx) override { books_.apply(ev, tx); }
//     void before_commit(pqxx::work& tx) override { books_.flush(tx); }
//     void after_rollback() override { books_.discard(); }
//     eck::pos::Books books_;
//   };
//   TEST_F(PosBooks, DuplicateSaleIsRejected) { applies(sale); rejects(sale, "duplicate"); }
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "eck/consumer.h"  // Rejected
#include "eck/db.h"
#include "eck/events.h"
#include "eck/follower.h"  // Event
#include "eck/migrate.h"
#include "support/contains.h"
#include "support/test_pg.h"

namespace eck::test {

class BooksTest : public ::testing::Test {
 public:
  using Lines = std::vector<std::string>;

 protected:
  // `tables`: what dump() compares; `source`: the application name and the
  // source of the envelopes the fixture completes.
  BooksTest(std::string schema, std::vector<MigrationSet> migrations, std::vector<std::string> tables,
            std::string source)
      : schema_(std::move(schema)),
        migrations_(std::move(migrations)),
        tables_(std::move(tables)),
        source_(std::move(source)) {}

  void SetUp() override {
    db_ = std::make_unique<Database>(DatabaseOptions{tdb_.url(), schema_, source_});
    migrate(conn(), schema_, migrations_);
  }

  // The daemon's handler and its transaction hooks.
  virtual void handle(const Event& ev, pqxx::work& tx) = 0;
  virtual void before_commit(pqxx::work& tx) = 0;
  virtual void after_rollback() = 0;

  Database& db() { return *db_; }
  pqxx::connection& conn() { return db_->connection(); }

  // Applies the events in one transaction, as the consumer applies a batch.
  // Returns why it was rejected, or nothing when it committed. Anything but
  // eck::Rejected is a failure too: the contracts reject with Rejected.
  std::optional<std::string> apply_batch(const std::vector<v1::Envelope>& envs) {
    std::vector<Event> events;
    for (const auto& env : envs) events.push_back(event(env));
    pqxx::work tx(conn());
    try {
      for (const auto& ev : events) handle(ev, tx);
      before_commit(tx);
      tx.commit();
      last_ = events.back();
      return std::nullopt;
    } catch (const Rejected& r) {
      tx.abort();
      after_rollback();
      return std::string(r.what());
    } catch (const std::exception& e) {
      tx.abort();
      after_rollback();
      ADD_FAILURE() << "not an eck::Rejected: " << e.what();
      return std::string(e.what());
    }
  }

  std::optional<std::string> apply(const v1::Envelope& env) { return apply_batch({env}); }

  // The contract applies them, each in its own transaction.
  void applies(const std::vector<v1::Envelope>& envs) {
    for (const auto& env : envs) {
      const auto why = apply(env);
      if (why) ADD_FAILURE() << "rejected (" << *why << ") but the contract applies " << to_json(env);
    }
  }
  void applies(const v1::Envelope& env) { applies(std::vector<v1::Envelope>{env}); }

  // The contract rejects it with a reason containing `reason`, and nothing
  // changes.
  void rejects(const v1::Envelope& env, const std::string& reason) { rejects_batch({env}, reason); }

  void rejects_batch(const std::vector<v1::Envelope>& envs, const std::string& reason) {
    const std::string before = dump();
    const auto why = apply_batch(envs);
    if (!why) {
      ADD_FAILURE() << "applied, but the contract rejects it (\"" << reason << "\"): " << to_json(envs.back());
      return;
    }
    EXPECT_PRED_FORMAT2(Contains, *why, reason) << "\n  event: " << to_json(envs.back());
    EXPECT_EQ(dump(), before) << "a rejected event changed the books: " << to_json(envs.back());
  }

  // Every table of the books, as text.
  std::string dump() {
    pqxx::work tx(conn());
    std::string out;
    for (const auto& table : tables_) {
      out += table + ":\n" +
             tx.exec1("SELECT coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '') FROM " + table + " x")[0]
                 .as<std::string>() +
             "\n";
    }
    return out;
  }

  // The first column of every row, as text ("NULL" for NULL).
  template <typename... Args>
  Lines column(const std::string& sql, Args&&... args) {
    pqxx::work tx(conn());
    Lines out;
    const pqxx::result result = tx.exec_params(sql, std::forward<Args>(args)...);
    for (const auto& row : result) out.push_back(row[0].is_null() ? "NULL" : row[0].as<std::string>());
    return out;
  }

  // The one value of a query that returns one row.
  template <typename... Args>
  std::string value(const std::string& sql, Args&&... args) {
    const Lines rows = column(sql, std::forward<Args>(args)...);
    if (rows.size() != 1) {
      ADD_FAILURE() << rows.size() << " rows from " << sql;
      return "";
    }
    return rows[0];
  }

  // The last event of the last batch that committed.
  const std::string& last_event_id() const { return last_.envelope.event_id(); }
  std::uint64_t last_seq() const { return last_.seq; }

 private:
  // The next journal sequence; the envelope completed unless it has an id.
  Event event(v1::Envelope env) {
    if (env.event_id().empty()) complete_envelope(env, source_);
    Event ev;
    ev.seq = ++seq_;
    ev.topic = kind_of(env)->topic;
    ev.raw = env.SerializeAsString();
    ev.envelope = std::move(env);
    return ev;
  }

  std::string schema_;
  std::vector<MigrationSet> migrations_;
  std::vector<std::string> tables_;
  std::string source_;
  TestDatabase tdb_;
  std::unique_ptr<Database> db_;
  std::uint64_t seq_ = 0;
  Event last_;
};

}  // namespace eck::test
