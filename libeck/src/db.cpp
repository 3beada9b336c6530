// One PostgreSQL connection per Database, rebuilt from scratch after a break.
//
// libpqxx 6.4 would otherwise reconnect a broken connection on its own the
// next time a transaction starts, silently losing session state (our
// search_path, and the session advisory lock a migrator holds). So every
// connection has reactivation inhibited: a break surfaces as
// pqxx::broken_connection, the caller resets, and connection() builds a new
// object with its session set up again.
#include "eck/db.h"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

namespace eck {

namespace {

// SQLSTATEs that mean "this session is gone or cannot be had right now",
// raised as sql_error rather than broken_connection when the server says so
// before closing the socket.
bool is_connection_sqlstate(const std::string& state) {
  return state.starts_with("08") ||  // connection_exception
         state == "57P01" ||         // admin_shutdown (server stopping)
         state == "57P02" ||         // crash_shutdown
         state == "57P03";           // cannot_connect_now (starting up)
}

// pqxx messages end in newlines (libpq's); one line reads better in logs.
std::string one_line(std::string s) {
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

std::string quote_ident(const std::string& name) {
  if (name.empty()) throw std::invalid_argument("quote_ident: empty identifier");
  if (name.find('\0') != std::string::npos) {
    throw std::invalid_argument("quote_ident: identifier contains a NUL byte");
  }
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

Database::Database(DatabaseOptions opts) : opts_(std::move(opts)) {}

pqxx::connection& Database::connection() {
  if (conn_ && conn_->is_open()) return *conn_;
  conn_.reset();
  auto c = std::make_unique<pqxx::connection>(opts_.url);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  {
    pqxx::nontransaction tx(*c);
    tx.exec("SET application_name TO " + tx.quote(opts_.application_name));
    if (!opts_.schema.empty()) tx.exec("SET search_path TO " + quote_ident(opts_.schema));
  }
  conn_ = std::move(c);
  return *conn_;
}

void Database::reset() { conn_.reset(); }

bool Database::connected() const { return conn_ && conn_->is_open(); }

void Database::with_retry(const std::function<void(pqxx::work&)>& fn,
                          std::chrono::milliseconds give_up) {
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + give_up;
  auto delay = std::chrono::milliseconds(100);
  for (;;) {
    std::string why;
    try {
      pqxx::work tx(connection());
      fn(tx);
      tx.commit();
      return;
    } catch (const pqxx::broken_connection& e) {
      why = one_line(e.what());
    } catch (const pqxx::in_doubt_error& e) {
      // The commit may or may not have happened; the work is idempotent.
      why = one_line(e.what());
    } catch (const pqxx::sql_error& e) {
      if (!is_connection_sqlstate(e.sqlstate()) && connected()) throw;
      why = one_line(e.what());
    }
    reset();
    const auto now = clock::now();
    if (now >= deadline) {
      throw pqxx::broken_connection("database unreachable for " +
                                    std::to_string(give_up.count()) + " ms: " + why);
    }
    // The last sleep is cut short so the final attempt falls on the deadline.
    const auto pause = std::min<std::chrono::steady_clock::duration>(delay, deadline - now);
    spdlog::warn("database connection lost ({}); retrying in {} ms", why,
                 std::chrono::duration_cast<std::chrono::milliseconds>(pause).count());
    std::this_thread::sleep_for(pause);
    delay = std::min(delay * 2, std::chrono::milliseconds(2000));
  }
}

}  // namespace eck
