// PostgreSQL access shared by all daemons: one connection that comes back by
// itself after the server restarts.
//
// Every daemon works in its own schema: after (re)connecting, Database sets
// search_path to that schema, so daemon SQL names its tables unqualified.
//
// libpqxx 6.4's own silent reactivation is switched off on every connection
// (it would come back without the search_path): a break always surfaces as
// pqxx::broken_connection, and reset() + connection() builds a fresh session.
// A connection that broke while idle is only noticed when next used.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace eck {

struct DatabaseOptions {
  std::string url;     // libpq connection string or URI
  std::string schema;  // search_path after connecting; empty: leave as is
  std::string application_name = "eck";
};

// Not thread-safe: one Database per thread that talks to PostgreSQL.
class Database {
 public:
  explicit Database(DatabaseOptions opts);
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The live connection, (re)connecting first when there is none or the old
  // one broke. Throws pqxx::broken_connection when the server is unreachable.
  pqxx::connection& connection();

  // Drops the connection; the next connection() reconnects. Call after
  // pqxx::broken_connection or an ambiguous commit.
  void reset();

  bool connected() const;

  // Runs fn(tx) in a transaction and commits. On pqxx::broken_connection,
  // pqxx::in_doubt_error, or an SQL error that means the session is gone
  // (SQLSTATE 08xxx, 57P01-57P03) it resets and retries until it succeeds or
  // `give_up` has passed (then throws pqxx::broken_connection), sleeping
  // with backoff (100 ms doubling to 2 s). Other exceptions propagate.
  // Use only for idempotent work: a commit whose outcome is unknown is
  // retried.
  void with_retry(const std::function<void(pqxx::work&)>& fn,
                  std::chrono::milliseconds give_up = std::chrono::seconds(30));

  const DatabaseOptions& options() const { return opts_; }

 private:
  DatabaseOptions opts_;
  std::unique_ptr<pqxx::connection> conn_;
};

// Quotes an identifier for SQL text ("schema" names and the like): always
// double-quoted, embedded quotes doubled. Throws std::invalid_argument for an
// empty name or one containing a NUL byte.
std::string quote_ident(const std::string& name);

}  // namespace eck
