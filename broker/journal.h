// Journal: the broker's durable, ordered, deduplicated event log in
// PostgreSQL (schema broker, see schema/broker/).
//
// The broker is the single writer: open() takes a session advisory lock that
// a standby broker waits on, then loads the head. append() writes one batch
// in one transaction (group commit) and reports, per publish, the sequence
// number it has in the journal -- a new one, or the original for an event_id
// seen before. In-memory state (head, topic heads) changes only after the
// commit succeeded, so a failed or ambiguous commit leaves nothing behind:
// after reset() the state is reloaded from the database.
//
// Not thread-safe: owned by the ingest thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eck/db.h"

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

class Journal {
 public:
  explicit Journal(Database& db) : db_(db) {}

  // Tries to become the writer: takes the writer lock (non-blocking) and
  // loads head, topic heads and journal id. Returns false when another broker
  // holds the lock. Throws on database errors.
  bool try_open();

  // Appends and commits. Result i belongs to batch[i]. Throws (pqxx errors)
  // when the batch did not commit or its outcome is unknown; then call
  // reset() and try_open() again before the next append.
  std::vector<Appended> append(const std::vector<Publish>& batch);

  // Forgets the connection and the loaded state.
  void reset();

  bool is_open() const { return open_; }
  std::uint64_t head() const { return head_; }
  const std::map<std::string, std::uint64_t>& topic_heads() const { return topic_heads_; }
  const std::string& journal_id() const { return journal_id_; }

 private:
  Database& db_;
  bool open_ = false;
  std::uint64_t head_ = 0;
  std::map<std::string, std::uint64_t> topic_heads_;
  std::string journal_id_;
};

// Advisory lock key that makes one broker per journal the writer.
inline constexpr std::int64_t kWriterLockKey = 0x65636b6a726e6c;  // "eckjrnl"

}  // namespace eck::broker
