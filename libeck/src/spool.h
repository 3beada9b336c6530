// Spool: the Publisher's durable memory of events not yet answered by the
// broker (guarantee 5). Internal to libeck.
//
// One SQLite file, one table:
//   spool(id INTEGER PRIMARY KEY, event_id TEXT UNIQUE, topic TEXT, envelope BLOB)
// opened with journal_mode=WAL and synchronous=FULL, so an insert() that
// returned survives a crash or power loss. id keeps the publish order, which
// is the order a new Publisher resends in.
//
// Thread-safety: all members may be called from any thread (one internal
// mutex; SQLite itself is opened without its own locking).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace eck::detail {

struct SpooledEvent {
  std::int64_t id = 0;
  std::string event_id;
  std::string topic;
  std::string envelope;  // serialized eck.v1.Envelope, exactly as sent
};

class Spool {
 public:
  // Opens or creates the file. Throws std::runtime_error naming the path and
  // SQLite's message when it cannot (missing directory, not a database, ...).
  explicit Spool(const std::string& path);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Durably records the event before the caller lets publish() return.
  // Returns false (and changes nothing) when event_id is already spooled:
  // a re-publish of an unanswered event must not be stored twice.
  bool insert(const std::string& event_id, const std::string& topic, const std::string& envelope);

  // Forgets answered events (acknowledged, or refused for good), in one
  // transaction. Unknown ids are ignored.
  void remove(const std::vector<std::string>& event_ids);

  // Everything still spooled, oldest first.
  std::vector<SpooledEvent> load();

  std::size_t count();

 private:
  void exec(const char* sql);
  [[noreturn]] void fail(const std::string& what);

  std::mutex mu_;
  std::string path_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
};

}  // namespace eck::detail
