// Smoke test of the test support: isolated per-test databases on the
// throwaway cluster of ./dev test.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include "support/test_pg.h"

namespace {

using eck::test::TestDatabase;
using eck::test::url_with;

bool table_exists(const std::string& url, const std::string& table) {
  pqxx::connection c{url};
  pqxx::nontransaction tx{c};
  return !tx.exec1("SELECT to_regclass(" + tx.quote(table) + ") IS NULL")[0].as<bool>();
}

TEST(TestPg, DatabasesAreFreshAndIsolated) {
  TestDatabase a;
  TestDatabase b;
  EXPECT_NE(a.name(), b.name());
  EXPECT_NE(a.url(), b.url());
  {
    pqxx::connection c{a.url()};
    pqxx::work tx{c};
    EXPECT_EQ(tx.exec1("SELECT current_database()")[0].as<std::string>(), a.name());
    tx.exec0("CREATE TABLE only_in_a (x int)");
    tx.commit();
  }
  EXPECT_TRUE(table_exists(a.url(), "only_in_a"));
  EXPECT_FALSE(table_exists(b.url(), "only_in_a"));
}

TEST(TestPg, DatabaseIsDroppedAtEndOfScope) {
  std::string name;
  {
    TestDatabase db;
    name = db.name();
  }
  pqxx::connection c{eck::test::superuser_url()};
  pqxx::nontransaction tx{c};
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM pg_database WHERE datname = " + tx.quote(name))[0].as<int>(),
            0);
}

TEST(TestPg, ProvisionedRolesTouchOnlyTheirSchema) {
  TestDatabase db;
  db.provision();
  db.provision();  // idempotent
  pqxx::connection inv{db.url_as("eck_inventory")};
  {
    pqxx::work tx{inv};
    EXPECT_EQ(tx.exec1("SELECT current_user")[0].as<std::string>(), "eck_inventory");
    tx.exec0("CREATE TABLE inventory.mine (x int)");
    tx.commit();
  }
  {
    pqxx::work tx{inv};
    EXPECT_THROW(tx.exec0("CREATE TABLE broker.not_mine (x int)"), pqxx::sql_error);
  }
  {
    pqxx::work tx{inv};
    EXPECT_THROW(tx.exec0("CREATE TABLE public.not_mine (x int)"), pqxx::sql_error);
  }
}

TEST(TestPg, UrlWithReplacesUserAndDatabase) {
  const std::string su = "postgresql://eck@/postgres?host=/tmp/x%20y/run&port=23037";
  EXPECT_EQ(url_with(su, "", "t_1"), "postgresql://eck@/t_1?host=/tmp/x%20y/run&port=23037");
  EXPECT_EQ(url_with(su, "eck_pos", "t_1"),
            "postgresql://eck_pos@/t_1?host=/tmp/x%20y/run&port=23037");
  EXPECT_EQ(url_with("postgresql://u:pw@localhost:5432/db", "v", ""), "postgresql://v@localhost:5432/db");
  EXPECT_EQ(url_with("postgresql://localhost", "", "d"), "postgresql://localhost/d");
  EXPECT_EQ(url_with("host=/run dbname=x", "r", "d"), "host=/run dbname=x user='r' dbname='d'");
}

}  // namespace
