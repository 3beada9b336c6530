// eck::migrate against a real PostgreSQL: order, checksums, idempotence,
// refusals, failure atomicity, concurrent starts and least-privilege roles.
#include "eck/migrate.h"

#include <gtest/gtest.h>

#include <fstream>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/test_pg.h"

namespace {

using eck::Migration;
using eck::MigrationError;
using eck::MigrationSet;

MigrationSet app_set() {
  return MigrationSet{"app",
                      {
                          {1, "0001_items.sql", "CREATE TABLE items (id int PRIMARY KEY);\n"},
                          {2, "0002_name.sql", "ALTER TABLE items ADD COLUMN name text;\n"},
                          {3, "0003_seed.sql", "INSERT INTO items VALUES (1, 'one');\n"},
                      }};
}

template <typename Fn>
std::string migration_error_of(Fn&& fn) {
  try {
    fn();
  } catch (const MigrationError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected MigrationError";
  return {};
}

class MigrateTest : public ::testing::Test {
 protected:
  eck::test::TestDatabase db_;
  pqxx::connection conn_{db_.url()};

  std::string scalar(const std::string& sql) {
    pqxx::work tx(conn_);
    auto r = tx.exec1(sql);
    return r[0].is_null() ? "NULL" : r[0].as<std::string>();
  }
  bool table_exists(const std::string& qualified) {
    return scalar("SELECT to_regclass('" + qualified + "') IS NOT NULL") == "t";
  }
  int recorded(const std::string& schema) {
    return std::stoi(scalar("SELECT count(*) FROM " + schema + ".schema_migrations"));
  }
  int advisory_locks_held() {
    return std::stoi(scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"));
  }
};

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(eck::sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(eck::sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(MigrateTest, AppliesInOrderAndRecordsChecksums) {
  EXPECT_EQ(eck::migrate(conn_, "s1", {app_set()}), 3);
  // Unqualified names in the files land in the schema, not in public.
  EXPECT_TRUE(table_exists("s1.items"));
  EXPECT_FALSE(table_exists("public.items"));
  EXPECT_EQ(scalar("SELECT name FROM s1.items WHERE id = 1"), "one");

  pqxx::work tx(conn_);
  auto rows = tx.exec(
      "SELECT component, version, name, checksum, applied_at IS NOT NULL"
      " FROM s1.schema_migrations ORDER BY version");
  ASSERT_EQ(rows.size(), 3u);
  const auto set = app_set();
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i][0].as<std::string>(), "app");
    EXPECT_EQ(rows[i][1].as<int>(), set.migrations[i].version);
    EXPECT_EQ(rows[i][2].as<std::string>(), set.migrations[i].name);
    EXPECT_EQ(rows[i][3].as<std::string>(), eck::sha256_hex(set.migrations[i].sql));
    EXPECT_TRUE(rows[i][4].as<bool>());
  }
}

TEST_F(MigrateTest, SecondRunIsIdempotentAndAppliesOnlyNewFiles) {
  ASSERT_EQ(eck::migrate(conn_, "s1", {app_set()}), 3);
  EXPECT_EQ(eck::migrate(conn_, "s1", {app_set()}), 0);
  auto more = app_set();
  more.migrations.push_back({4, "0004_more.sql", "INSERT INTO items VALUES (2, 'two');"});
  EXPECT_EQ(eck::migrate(conn_, "s1", {more}), 1);
  EXPECT_EQ(scalar("SELECT count(*) FROM s1.items"), "2");
  EXPECT_EQ(recorded("s1"), 4);
  EXPECT_EQ(advisory_locks_held(), 0);
}

TEST_F(MigrateTest, EditedAppliedMigrationIsRefusedNamingTheFile) {
  ASSERT_EQ(eck::migrate(conn_, "s1", {app_set()}), 3);
  auto edited = app_set();
  edited.migrations[1].sql = "ALTER TABLE items ADD COLUMN name varchar(10);\n";
  edited.migrations.push_back({4, "0004_more.sql", "CREATE TABLE more (x int);"});
  const auto msg = migration_error_of([&] { eck::migrate(conn_, "s1", {edited}); });
  EXPECT_NE(msg.find("0002_name.sql"), std::string::npos) << msg;
  EXPECT_NE(msg.find("edited"), std::string::npos) << msg;
  // Refused before anything was applied.
  EXPECT_FALSE(table_exists("s1.more"));
  EXPECT_EQ(recorded("s1"), 3);
  EXPECT_EQ(advisory_locks_held(), 0);
}

TEST_F(MigrateTest, FailingMigrationLeavesNoTraceAndNamesTheFile) {
  MigrationSet set{"app",
                   {
                       {1, "0001_ok.sql", "CREATE TABLE ok (x int);"},
                       {2, "0002_bad.sql",
                        "CREATE TABLE half (x int);\nINSERT INTO ok VALUES (1);\n"
                        "SELECT no_such_function();\n"},
                       {3, "0003_after.sql", "CREATE TABLE after (x int);"},
                   }};
  const auto msg = migration_error_of([&] { eck::migrate(conn_, "s1", {set}); });
  EXPECT_NE(msg.find("0002_bad.sql"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no_such_function"), std::string::npos) << msg;
  EXPECT_TRUE(table_exists("s1.ok"));  // its own transaction, committed
  EXPECT_FALSE(table_exists("s1.half"));
  EXPECT_FALSE(table_exists("s1.after"));
  EXPECT_EQ(scalar("SELECT count(*) FROM s1.ok"), "0");
  EXPECT_EQ(recorded("s1"), 1);
  EXPECT_EQ(advisory_locks_held(), 0);

  // Fixed file: the next start goes on from there.
  set.migrations[1].sql = "CREATE TABLE half (x int);";
  EXPECT_EQ(eck::migrate(conn_, "s1", {set}), 2);
  EXPECT_TRUE(table_exists("s1.after"));
}

TEST_F(MigrateTest, UnknownNewerVersionIsRefused) {
  ASSERT_EQ(eck::migrate(conn_, "s1", {app_set()}), 3);
  auto older = app_set();
  older.migrations.pop_back();
  const auto msg = migration_error_of([&] { eck::migrate(conn_, "s1", {older}); });
  EXPECT_NE(msg.find("0003_seed.sql"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not know"), std::string::npos) << msg;
}

TEST_F(MigrateTest, MigrationOlderThanAppliedOnesIsRefused) {
  // 0002 appears after 0003 was applied (a merge of two branches): applying
  // it out of order could mean anything, so it needs a new number.
  const Migration m1{1, "0001_a.sql", "CREATE TABLE a (x int);"};
  const Migration m2{2, "0002_b.sql", "CREATE TABLE b (x int);"};
  const Migration m3{3, "0003_c.sql", "CREATE TABLE c (x int);"};
  ASSERT_EQ(eck::migrate(conn_, "s1", {MigrationSet{"app", {m1, m3}}}), 2);
  const auto msg =
      migration_error_of([&] { eck::migrate(conn_, "s1", {MigrationSet{"app", {m1, m2, m3}}}); });
  EXPECT_NE(msg.find("0002_b.sql"), std::string::npos) << msg;
  EXPECT_FALSE(table_exists("s1.b"));
}

TEST_F(MigrateTest, ComponentsAreTrackedSeparately) {
  MigrationSet other{"other", {{1, "0001_other.sql", "CREATE TABLE other (x int);"}}};
  EXPECT_EQ(eck::migrate(conn_, "s1", {app_set(), other}), 4);
  EXPECT_EQ(eck::migrate(conn_, "s1", {app_set(), other}), 0);
  EXPECT_EQ(scalar("SELECT count(*) FROM s1.schema_migrations WHERE component = 'other'"), "1");
}

TEST_F(MigrateTest, MalformedSetsAreRejected) {
  MigrationSet unordered{"app", {{2, "0002_a.sql", "SELECT 1"}, {1, "0001_b.sql", "SELECT 1"}}};
  EXPECT_THROW(eck::migrate(conn_, "s1", {unordered}), MigrationError);
  MigrationSet unnamed{"", {}};
  EXPECT_THROW(eck::migrate(conn_, "s1", {unnamed}), MigrationError);
  EXPECT_THROW(eck::migrate(conn_, "s1", {app_set(), app_set()}), MigrationError);
}

TEST_F(MigrateTest, ConcurrentMigratorsApplyEachFileOnce) {
  // Each file would fail if applied twice (CREATE TABLE without IF NOT
  // EXISTS); the sleep widens the window in which both are starting.
  MigrationSet set{"app",
                   {
                       {1, "0001_slow.sql", "SELECT pg_sleep(0.3); CREATE TABLE t1 (x int);"},
                       {2, "0002_rows.sql", "CREATE TABLE t2 (x int); INSERT INTO t2 VALUES (1);"},
                   }};
  std::latch start(2);
  int applied[2] = {-1, -1};
  std::string errors[2];
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      try {
        pqxx::connection c{db_.url()};
        start.arrive_and_wait();
        applied[i] = eck::migrate(c, "s1", {eck::runtime_migrations(), set});
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors[0], "");
  EXPECT_EQ(errors[1], "");
  const int total_files = static_cast<int>(eck::runtime_migrations().migrations.size()) + 2;
  EXPECT_EQ(applied[0] + applied[1], total_files);
  EXPECT_TRUE(applied[0] == 0 || applied[1] == 0) << applied[0] << " " << applied[1];
  EXPECT_EQ(scalar("SELECT count(*) FROM s1.t2"), "1");
  EXPECT_EQ(recorded("s1"), total_files);
}

TEST_F(MigrateTest, RuntimeMigrationsCreateTheClientTables) {
  const auto set = eck::runtime_migrations();
  ASSERT_FALSE(set.migrations.empty());
  EXPECT_EQ(eck::migrate(conn_, "inv", {set}), static_cast<int>(set.migrations.size()));
  for (const char* t : {"consumer_position", "dead_letter", "outbox"}) {
    EXPECT_TRUE(table_exists(std::string("inv.") + t)) << t;
  }
  EXPECT_EQ(eck::migrate(conn_, "inv", {set}), 0);
}

TEST_F(MigrateTest, WorksAsSchemaOwnerWithoutCreateOnDatabase) {
  db_.provision();
  pqxx::connection as_owner{db_.url_as("eck_inventory")};
  {
    pqxx::work tx(as_owner);
    ASSERT_FALSE(tx.exec1("SELECT has_database_privilege(current_database(), 'CREATE')")[0]
                     .as<bool>());
    ASSERT_EQ(tx.exec1("SELECT nspowner::regrole::text FROM pg_namespace"
                       " WHERE nspname = 'inventory'")[0]
                  .as<std::string>(),
              "eck_inventory");
  }
  EXPECT_EQ(eck::migrate(as_owner, "inventory", {eck::runtime_migrations(), app_set()}),
            static_cast<int>(eck::runtime_migrations().migrations.size()) + 3);
  EXPECT_EQ(eck::migrate(as_owner, "inventory", {eck::runtime_migrations(), app_set()}), 0);
  EXPECT_TRUE(table_exists("inventory.outbox"));
  EXPECT_TRUE(table_exists("inventory.items"));

  // A schema that was not provisioned cannot be created by this role: a
  // clear MigrationError, not a half-made schema.
  const auto msg = migration_error_of([&] { eck::migrate(as_owner, "elsewhere", {app_set()}); });
  EXPECT_NE(msg.find("elsewhere"), std::string::npos) << msg;
  EXPECT_NE(msg.find("permission denied"), std::string::npos) << msg;
}

// --- load_migrations ----------------------------------------------------------

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(LoadMigrations, ReadsSortedSqlFilesAndIgnoresOthers) {
  eck::test::TempDir dir;
  write(dir.file("0002_second.sql"), "SELECT 2;");
  write(dir.file("0010_tenth.sql"), "SELECT 10;");
  write(dir.file("0001_first.sql"), "SELECT 1;");
  write(dir.file("README.md"), "not a migration");
  const auto ms = eck::load_migrations(dir.path());
  ASSERT_EQ(ms.size(), 3u);
  EXPECT_EQ(ms[0].version, 1);
  EXPECT_EQ(ms[0].name, "0001_first.sql");
  EXPECT_EQ(ms[0].sql, "SELECT 1;");
  EXPECT_EQ(ms[1].version, 2);
  EXPECT_EQ(ms[2].version, 10);
}

TEST(LoadMigrations, RejectsBadNamesDuplicatesAndMissingDirectories) {
  for (const char* bad : {"1_short.sql", "0001-dash.sql", "0001_Upper.sql", "0000_zero.sql",
                          "abcd_x.sql", "0001_.sql"}) {
    eck::test::TempDir dir;
    write(dir.file(bad), "SELECT 1;");
    const auto msg = migration_error_of([&] { eck::load_migrations(dir.path()); });
    EXPECT_NE(msg.find(bad), std::string::npos) << msg;
  }
  eck::test::TempDir dup;
  write(dup.file("0001_a.sql"), "SELECT 1;");
  write(dup.file("0001_b.sql"), "SELECT 1;");
  EXPECT_THROW(eck::load_migrations(dup.path()), MigrationError);
  EXPECT_THROW(eck::load_migrations(dup.file("missing")), MigrationError);
}

TEST(LoadMigrations, RepositorySchemaCommonMatchesEmbedded) {
  const auto from_disk = eck::load_migrations(eck::test::source_dir() + "/schema/common");
  const auto embedded = eck::runtime_migrations();
  ASSERT_EQ(from_disk.size(), embedded.migrations.size());
  for (std::size_t i = 0; i < from_disk.size(); ++i) {
    EXPECT_EQ(from_disk[i].version, embedded.migrations[i].version);
    EXPECT_EQ(from_disk[i].name, embedded.migrations[i].name);
    EXPECT_EQ(eck::sha256_hex(from_disk[i].sql), eck::sha256_hex(embedded.migrations[i].sql));
  }
}

}  // namespace
