// Journal: the broker's durable, ordered, deduplicated event log in
// PostgreSQL (schema broker, see schema/broker/).
//
// The broker is the single writer: try_open() takes a session advisory lock that
// a standby broker waits on, then loads the head. append() writes one batch
// in one transaction (group commit) and reports, per publish, the sequence
// number it has in the journal -- a new one, or the original for an event_id
// seen before. In-memory state (head, topic heads) changes only after the
// commit succeeded, so a failed or ambiguous commit leaves nothing behind:
// after reset() the state is reloaded from the database.
//
// The write path talks libpq directly, on a session of its own (the one that
// holds the writer lock), in pipeline mode: BEGIN, the inserts (binary
// arrays, unnest), the topic_head upsert and COMMIT go out together and come
// back together -- one round trip plus the commit's fsync per batch. Dedupe
// is optimistic: duplicates only come from retries, so the batch is inserted
// without looking first; when the unique index on event_id refuses it, the
// transaction is rolled back and the batch is redone the careful way (look
// up which ids are journaled, insert only the others). The pqxx Database is
// used for migrations only (eck::migrate); the journal closes it once it is
// the writer.
//
// Not thread-safe: owned by the ingest thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "eck/db.h"

struct pg_conn;  // libpq's PGconn

namespace eck::broker {

struct Publish {
  std::string peer;      // ROUTER identity to answer
  std::string event_id;  // normalized UUID text
  std::string topic;
  std::string envelope;  // bytes as received
};

struct Appended {
  std::uint64_t seq = 0;
  std::uint64_t prev_topic_seq = 0;
  bool duplicate = false;
};

// A batch did not commit, or whether it did is unknown, or the database
// connection is gone. The in-memory state is untouched; reset() and
// try_open() before the next append().
class JournalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct JournalStats {
  std::uint64_t commits = 0;    // batches committed
  std::uint64_t fallbacks = 0;  // batches redone the careful way after a duplicate event_id
};

class Journal {
 public:
  // `db` supplies the connection options (url, schema, application_name);
  // its own pqxx connection is only for migrations.
  explicit Journal(Database& db);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Tries to become the writer: connects, takes the writer lock
  // (non-blocking) on that session and loads head, topic heads and journal
  // id. Returns false when another broker holds the lock. Throws on
  // database errors, and (JournalError) when the lock was still held by
  // this journal's own previous session, which it then terminated: try
  // again shortly.
  bool try_open();

  // Appends and commits. Result i belongs to batch[i]; a publish whose
  // event_id is journaled already, or appears earlier in the batch, gets
  // the original seq with duplicate = true. Throws JournalError when the
  // batch did not commit or its outcome is unknown (the session is closed
  // then: is_open() is false); call reset() and try_open() again before the
  // next append. Event ids must be UUIDs (parse_publish sees to that;
  // std::invalid_argument otherwise).
  std::vector<Appended> append(const std::vector<Publish>& batch);

  // append() in two halves, so the caller can read the next batch while
  // this one commits: start() sends the batch (which must stay alive and
  // unchanged until finish() returned true or threw); finish() reads what
  // the database answered so far and returns true, with the results in
  // `out`, once the batch committed. With block = false it never waits
  // (poll socket() for input before calling it again); the rare redo after
  // a duplicate event_id does wait. Both throw like append(). One batch at
  // a time.
  void start(const std::vector<Publish>& batch);
  bool finish(std::vector<Appended>& out, bool block);
  bool busy() const;   // a batch was started and is not finished
  int socket() const;  // the session's socket, -1 when not connected

  // Forgets the connections and the loaded state.
  void reset();

  bool is_open() const { return open_; }
  std::uint64_t head() const { return head_; }
  const std::map<std::string, std::uint64_t>& topic_heads() const { return topic_heads_; }
  const std::string& journal_id() const { return journal_id_; }
  const JournalStats& stats() const { return stats_; }

  // Upper bounds of one INSERT statement; a batch is split into as many as
  // it needs (all in the same transaction and round trip).
  static constexpr std::size_t kMaxRowsPerInsert = 1000;
  static constexpr std::size_t kMaxBytesPerInsert = 32u << 20;

 private:
  struct Work;  // the batch in flight, scratch space reused between batches
  void close();
  [[noreturn]] void fail(const std::string& what);  // close(), throw JournalError
  // Decides every publish's seq (new, or the original of a duplicate) and
  // what is inserted; with use_known, ids the lookup found count as journaled.
  void plan(bool use_known);
  // Sends BEGIN, the inserts, the topic_head upsert, COMMIT and a sync.
  void send_batch();
  // Reads results until the sync (true) or until it would block (false).
  bool read_batch(bool block);
  // Rolls the refused transaction back and looks up which ids are journaled.
  void lookup();

  Database& db_;
  pg_conn* conn_ = nullptr;
  bool open_ = false;
  std::uint64_t head_ = 0;
  std::map<std::string, std::uint64_t> topic_heads_;
  std::string journal_id_;
  JournalStats stats_;
  std::unique_ptr<Work> work_;
  std::string session_;           // "pid backend_start" of the writing session
  std::string previous_session_;  // of the last one we let go of while writer
};

// Advisory lock key that makes one broker per journal the writer.
inline constexpr std::int64_t kWriterLockKey = 0x65636b6a726e6c;  // "eckjrnl"

}  // namespace eck::broker
