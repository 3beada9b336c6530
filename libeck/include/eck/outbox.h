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

#include <pqxx/pqxx>

#include "eck/db.h"
#include "eck/publisher.h"
#include "eck/v1/envelope.pb.h"

namespace eck {

// Completes the envelope (complete_envelope) and inserts it into
// <search_path>.outbox. Returns the event_id. Sends NOTIFY so the relay wakes.
std::string outbox_enqueue(pqxx::work& tx, v1::Envelope env, std::string_view source);

struct OutboxStats {
  std::uint64_t published = 0;  // rows acknowledged since start
  std::uint64_t pending = 0;    // rows not yet acknowledged (last look)
  std::uint64_t rejected = 0;   // rows the broker refused for good (left unacked, logged)
};

// Runs on its own thread with its own Database and Publisher.
class OutboxRelay {
 public:
  OutboxRelay(DatabaseOptions db, PublisherOptions pub);
  ~OutboxRelay();  // stop()s
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();
  void stop();
  OutboxStats stats() const;
  // Waits until the outbox has no unacknowledged rows; false on timeout.
  bool drain(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eck
