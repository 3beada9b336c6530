#include "spool.h"

#include <sqlite3.h>

#include <stdexcept>

namespace eck::detail {

namespace {

// Owns a statement for the length of one call (load(), count()).
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

}  // namespace

Spool::Spool(const std::string& path) : path_(path) {
  // NOMUTEX: mu_ serializes every use, SQLite's own mutex would be a second lock.
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw std::runtime_error("spool " + path + ": cannot open: " + msg);
  }
  try {
    // A second process on the same file would resend the same events; wait
    // briefly for a lock instead of failing at once on a transient one.
    sqlite3_busy_timeout(db_, 5000);
    exec("PRAGMA journal_mode=WAL");
    // FULL: the WAL is fsynced at every commit, so a returned insert() is on
    // disk. NORMAL would only protect against an application crash.
    exec("PRAGMA synchronous=FULL");
    exec(
        "CREATE TABLE IF NOT EXISTS spool ("
        " id INTEGER PRIMARY KEY,"
        " event_id TEXT NOT NULL UNIQUE,"
        " topic TEXT NOT NULL,"
        " envelope BLOB NOT NULL)");
    if (sqlite3_prepare_v2(db_,
                           "INSERT INTO spool (event_id, topic, envelope) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT (event_id) DO NOTHING",
                           -1, &insert_, nullptr) != SQLITE_OK)
      fail("prepare insert");
    if (sqlite3_prepare_v2(db_, "DELETE FROM spool WHERE event_id = ?1", -1, &delete_, nullptr) !=
        SQLITE_OK)
      fail("prepare delete");
  } catch (...) {
    sqlite3_finalize(insert_);
    sqlite3_finalize(delete_);
    sqlite3_close(db_);
    throw;
  }
}

Spool::~Spool() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(delete_);
  sqlite3_close(db_);
}

void Spool::fail(const std::string& what) {
  throw std::runtime_error("spool " + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

void Spool::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error("spool " + path_ + ": " + sql + ": " + msg);
  }
}

bool Spool::insert(const std::string& event_id, const std::string& topic,
                   const std::string& envelope) {
  std::lock_guard lock(mu_);
  sqlite3_reset(insert_);
  sqlite3_bind_text(insert_, 1, event_id.data(), static_cast<int>(event_id.size()), SQLITE_STATIC);
  sqlite3_bind_text(insert_, 2, topic.data(), static_cast<int>(topic.size()), SQLITE_STATIC);
  sqlite3_bind_blob(insert_, 3, envelope.data(), static_cast<int>(envelope.size()), SQLITE_STATIC);
  int rc = sqlite3_step(insert_);
  sqlite3_clear_bindings(insert_);
  if (rc != SQLITE_DONE) {
    sqlite3_reset(insert_);
    fail("insert " + event_id);
  }
  bool added = sqlite3_changes(db_) > 0;
  sqlite3_reset(insert_);
  return added;
}

void Spool::remove(const std::vector<std::string>& event_ids) {
  if (event_ids.empty()) return;
  std::lock_guard lock(mu_);
  exec("BEGIN IMMEDIATE");
  try {
    for (const auto& id : event_ids) {
      sqlite3_reset(delete_);
      sqlite3_bind_text(delete_, 1, id.data(), static_cast<int>(id.size()), SQLITE_STATIC);
      int rc = sqlite3_step(delete_);
      sqlite3_clear_bindings(delete_);
      sqlite3_reset(delete_);
      if (rc != SQLITE_DONE) fail("delete " + id);
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::vector<SpooledEvent> Spool::load() {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT id, event_id, topic, envelope FROM spool ORDER BY id", -1,
                         &st.s, nullptr) != SQLITE_OK)
    fail("prepare load");
  std::vector<SpooledEvent> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    SpooledEvent e;
    e.id = sqlite3_column_int64(st.s, 0);
    auto text = [&](int col) {
      const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st.s, col));
      return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st.s, col)))
               : std::string();
    };
    e.event_id = text(1);
    e.topic = text(2);
    const void* blob = sqlite3_column_blob(st.s, 3);
    if (blob)
      e.envelope.assign(static_cast<const char*>(blob),
                        static_cast<std::size_t>(sqlite3_column_bytes(st.s, 3)));
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) fail("load");
  return out;
}

std::size_t Spool::count() {
  std::lock_guard lock(mu_);
  Stmt st;
  if (sqlite3_prepare_v2(db_, "SELECT count(*) FROM spool", -1, &st.s, nullptr) != SQLITE_OK)
    fail("prepare count");
  if (sqlite3_step(st.s) != SQLITE_ROW) fail("count");
  return static_cast<std::size_t>(sqlite3_column_int64(st.s, 0));
}

}  // namespace eck::detail
