// PostgreSQL for tests: every test binary runs against the throwaway cluster
// that `./dev test` starts (tools/pg-cluster). It exports
//
//   ECK_TEST_PG_URL     superuser URI to database "postgres"
//                       (postgresql://eck@/postgres?host=<dir>/run&port=<n>)
//   ECK_PG_CLUSTER      absolute path of tools/pg-cluster
//   ECK_PG_CLUSTER_DIR  the cluster directory
//
// A test that needs a database creates a TestDatabase: a fresh, uniquely
// named database, dropped again when the object goes out of scope, so tests
// running in parallel never see each other's data.
//
//   eck::test::TestDatabase db;
//   db.provision();                      // roles eck_<daemon> + their schemas
//   pqxx::connection su{db.url()};       // as superuser
//   pqxx::connection b{db.url_as("eck_broker")};
//
// The functions below throw std::runtime_error (a test failure, never a
// skip) when the environment is missing: run the tests with ./dev test.
#pragma once

#include <string>

namespace eck::test {

// ECK_TEST_PG_URL. Throws with instructions when it is not set.
std::string superuser_url();

// `url` with the user name and/or database name replaced (empty: keep).
// Understands URIs (postgresql://user@/db?host=...&port=...) and key=value
// connection strings. A replaced user loses any password of the old one.
std::string url_with(const std::string& url, const std::string& user, const std::string& dbname);

class TestDatabase {
 public:
  // Creates database t_<pid>_<counter>_<random> through the superuser URL.
  TestDatabase();
  // Drops it WITH (FORCE); never throws (a failure is printed).
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }

  // Superuser URI to this database.
  std::string url() const;
  // URI to this database as `role` (trust authentication: no password).
  std::string url_as(const std::string& role) const;

  // Runs `pg-cluster provision` on this database: a LOGIN role eck_<name>
  // owning schema <name> for broker, inventory, pos, reorder and fiscal, each
  // able to touch only its own schema. Roles are cluster-wide and shared by
  // all test databases; schemas are per database. Idempotent.
  void provision() const;

 private:
  std::string name_;
};

// Control of the test cluster (`$ECK_PG_CLUSTER <cmd> $ECK_PG_CLUSTER_DIR`).
// Each returns when the command finished and throws when it failed.
void restart_postgres();  // fast shutdown, then start; waits until it accepts connections
void kill_postgres();     // SIGKILL of the postmaster and every backend (a crash)
void start_postgres();    // start after kill_postgres(); recovery runs, then it accepts connections
void stop_postgres();     // fast shutdown

}  // namespace eck::test
