// eck::Database against a real PostgreSQL, including server restarts.
//
// The DatabaseRestart tests stop and restart the shared test cluster: other
// tests connected to it at that moment see their connections break.
#include "eck/db.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "support/test_pg.h"

namespace {

using namespace std::chrono_literals;

std::string current_schema(pqxx::connection& c) {
  pqxx::work tx(c);
  return tx.exec1("SELECT current_schema()")[0].as<std::string>();
}

// Creates `schema` (superuser) so current_schema() can report it.
void create_schema(const eck::test::TestDatabase& db, const std::string& schema) {
  pqxx::connection su{db.url()};
  pqxx::work tx(su);
  tx.exec("CREATE SCHEMA " + eck::quote_ident(schema));
  tx.exec("CREATE TABLE " + eck::quote_ident(schema) + ".t (x int)");
  tx.commit();
}

TEST(QuoteIdent, QuotesAndEscapes) {
  EXPECT_EQ(eck::quote_ident("inventory"), "\"inventory\"");
  EXPECT_EQ(eck::quote_ident("My \"odd\" name"), "\"My \"\"odd\"\" name\"");
  EXPECT_THROW(eck::quote_ident(""), std::invalid_argument);
  EXPECT_THROW(eck::quote_ident(std::string("a\0b", 3)), std::invalid_argument);
}

TEST(Database, ConnectsLazilyAndSetsSearchPathAndApplicationName) {
  eck::test::TestDatabase tdb;
  create_schema(tdb, "My Schema");
  eck::Database db({tdb.url(), "My Schema", "eck-test"});
  EXPECT_FALSE(db.connected());
  auto& c = db.connection();
  EXPECT_TRUE(db.connected());
  EXPECT_EQ(&c, &db.connection());  // same live connection
  EXPECT_EQ(current_schema(c), "My Schema");
  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SHOW application_name")[0].as<std::string>(), "eck-test");
  // Unqualified names resolve in the schema.
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM t")[0].as<int>(), 0);
}

TEST(Database, EmptySchemaLeavesSearchPathAlone) {
  eck::test::TestDatabase tdb;
  eck::Database db({tdb.url(), "", "eck"});
  EXPECT_EQ(current_schema(db.connection()), "public");
}

TEST(Database, ResetReconnects) {
  eck::test::TestDatabase tdb;
  create_schema(tdb, "s");
  eck::Database db({tdb.url(), "s", "eck"});
  int pid1 = 0;
  {
    pqxx::work tx(db.connection());
    pid1 = tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  }
  db.reset();
  EXPECT_FALSE(db.connected());
  pqxx::work tx(db.connection());
  EXPECT_NE(tx.exec1("SELECT pg_backend_pid()")[0].as<int>(), pid1);
  EXPECT_EQ(tx.exec1("SELECT current_schema()")[0].as<std::string>(), "s");
}

TEST(Database, UnreachableServerThrowsBrokenConnection) {
  eck::Database db({"postgresql://eck@/postgres?host=/nonexistent&connect_timeout=2", "", "eck"});
  EXPECT_THROW(db.connection(), pqxx::broken_connection);
  EXPECT_FALSE(db.connected());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(db.with_retry([](pqxx::work&) {}, 300ms), pqxx::broken_connection);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 200ms);
  EXPECT_LT(took, 5s);
}

TEST(Database, WithRetryCommitsAndPropagatesOtherErrors) {
  eck::test::TestDatabase tdb;
  create_schema(tdb, "s");
  eck::Database db({tdb.url(), "s", "eck"});
  db.with_retry([](pqxx::work& tx) { tx.exec("INSERT INTO t VALUES (1)"); });
  int calls = 0;
  EXPECT_THROW(db.with_retry([&](pqxx::work& tx) {
    ++calls;
    tx.exec("INSERT INTO t VALUES (2)");
    tx.exec("SELECT no_such_column FROM t");
  }),
               pqxx::sql_error);
  EXPECT_EQ(calls, 1);  // a real SQL error is not retried
  EXPECT_THROW(db.with_retry([](pqxx::work&) { throw std::logic_error("mine"); }),
               std::logic_error);
  pqxx::work tx(db.connection());
  EXPECT_EQ(tx.exec1("SELECT string_agg(x::text, ',') FROM t")[0].as<std::string>(), "1");
}

// --- server restarts ------------------------------------------------------------

// Brings the cluster back however the test ends, so the tests after it (and
// TestDatabase's destructor) find it running.
struct StartsPostgresOnExit {
  ~StartsPostgresOnExit() {
    try {
      eck::test::start_postgres();  // no-op when running
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot restart the test cluster: " << e.what();
    }
  }
};

TEST(DatabaseRestart, ReconnectsWithSearchPathAfterRestart) {
  eck::test::TestDatabase tdb;
  create_schema(tdb, "s");
  eck::Database db({tdb.url(), "s", "eck"});
  ASSERT_EQ(current_schema(db.connection()), "s");

  eck::test::restart_postgres();

  // The old session is gone. libpqxx must not quietly reconnect it without
  // our search_path: the break surfaces, and after reset() the new session
  // is set up again.
  bool broke = false;
  try {
    pqxx::work tx(db.connection());
    tx.exec("SELECT 1");
    tx.commit();
  } catch (const pqxx::broken_connection&) {
    broke = true;
  } catch (const pqxx::sql_error& e) {
    broke = true;  // "terminating connection due to administrator command"
    EXPECT_FALSE(db.connected()) << e.what();
  }
  EXPECT_TRUE(broke);
  db.reset();
  EXPECT_EQ(current_schema(db.connection()), "s");
}

TEST(DatabaseRestart, WithRetrySurvivesARestart) {
  eck::test::TestDatabase tdb;
  create_schema(tdb, "s");
  eck::Database db({tdb.url(), "s", "eck"});
  db.with_retry([](pqxx::work& tx) { tx.exec("INSERT INTO t VALUES (1)"); });

  eck::test::restart_postgres();

  std::string schema_seen;
  db.with_retry([&](pqxx::work& tx) {
    schema_seen = tx.exec1("SELECT current_schema()")[0].as<std::string>();
    tx.exec("INSERT INTO t VALUES (2)");
  });
  EXPECT_EQ(schema_seen, "s");
  pqxx::work tx(db.connection());
  EXPECT_EQ(tx.exec1("SELECT string_agg(x::text, ',' ORDER BY x) FROM t")[0].as<std::string>(),
            "1,2");
}

TEST(DatabaseRestart, WithRetryWaitsForTheServerToComeBack) {
  eck::test::TestDatabase tdb;
  create_schema(tdb, "s");
  eck::Database db({tdb.url(), "s", "eck"});
  db.with_retry([](pqxx::work& tx) { tx.exec("INSERT INTO t VALUES (1)"); });

  std::future<void> done;
  StartsPostgresOnExit guard;  // destroyed before `done`, which may be waiting for the server
  eck::test::stop_postgres();
  // While it is down, a short give_up ends in broken_connection.
  EXPECT_THROW(db.with_retry([](pqxx::work&) {}, 300ms), pqxx::broken_connection);

  done = std::async(std::launch::async, [&] {
    db.with_retry([](pqxx::work& tx) { tx.exec("INSERT INTO t VALUES (2)"); }, 60s);
  });
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(done.wait_for(0s), std::future_status::timeout);  // still retrying
  eck::test::start_postgres();
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready);
  done.get();  // rethrows a failure

  pqxx::work tx(db.connection());
  EXPECT_EQ(tx.exec1("SELECT string_agg(x::text, ',' ORDER BY x) FROM t")[0].as<std::string>(),
            "1,2");
}

}  // namespace
