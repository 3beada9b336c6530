// Transactional outbox: how a daemon produces events without ever losing or
// inventing one. The daemon calls enqueue() inside the same transaction as
// the state change that caused the event; if that transaction rolls back, the
// event never existed. OutboxRelay then publishes committed rows in id order
// and stamps each with the journal sequence the broker acknowledged. A relay
// that dies between publish and stamp resends the same event_id, which the
// broker deduplicates.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "eck/db.h"
#include "eck/publisher.h"
#include "eck/v1/envelope.pb.h"

namespace eck {

// Completes the envelope (complete_envelope) and inserts it into
// <search_path>.outbox. Returns the event_id. Sends NOTIFY eck_outbox (payload:
// the schema), delivered on commit, so the relay wakes at once. Throws what
// pqxx throws, e.g. for an event_id that is not a UUID.

std::string outbox_enqueue(pqxx::work& tx, v1::Envelope env, std::string_view source);

// The same for many envelopes in one COPY and one NOTIFY, in order (ids
// ascending). Completes each envelope in place, so the caller can read the
// event_ids back; a bad envelope throws before anything is written.
void outbox_enqueue_all(pqxx::work& tx, std::vector<v1::Envelope>& envs, std::string_view source);

struct OutboxStats {
  std::uint64_t published = 0;  // rows acknowledged since start
  std::uint64_t pending = 0;    // rows neither acknowledged nor rejected (counted at most once a second)
  std::uint64_t rejected = 0;   // rows the broker refused for good since start
};

// Runs on its own thread with its own Database and Publisher (the spool_path
// of `pub` is ignored: the outbox table is the spool).
//
// Each round takes the oldest unstamped rows (at most pub.window, at most
// 1000), publishes them, waits until the broker has answered every one,
// then stamps them in one transaction: acked_seq/acked_at on an ACK,
// rejected = "CODE: reason" on a final NACK (logged as an error), so one
// poisoned row never blocks the rows after it. It sleeps on LISTEN with a
// 500 ms poll as fallback, and reconnects to the database on failure.
//
// Order: rows reach the journal in id order while nothing fails. A retry
// within one round (timeout, UNAVAILABLE) can journal a row after a later
// row of the same round; set pub.window = 1 where strict order matters.
//
// Thread-safety: stats() and drain() may be called from any thread; start()
// and stop() from the one that owns the relay.
class OutboxRelay {
 public:
  OutboxRelay(DatabaseOptions db, PublisherOptions pub);
  ~OutboxRelay();  // stop()s
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();
  // Returns promptly, also while the broker is away: rows published but not
  // yet stamped are published again (same event_id) by the next relay.
  void stop();
  OutboxStats stats() const;
  // Waits until a look at the outbox that began after this call found no
  // unstamped row; false on timeout (or when the relay is not running).
  bool drain(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eck
