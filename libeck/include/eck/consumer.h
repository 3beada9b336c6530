// Consumer: applies every event of its topics exactly once in effect, in
// journal order, whatever the live feed loses.
//
// How: the consumer's position (the journal sequence up to which every event
// has been considered) lives in <schema>.consumer_position, and is written in
// the same transaction as the effects of the events the handler applies. On
// start it replays from position+1 through the broker's replay endpoint, then
// follows the live feed. A live event whose sequence is not position+1, or a
// heartbeat whose head is past the position, means events were lost (slow
// joiner, high-water mark, reconnect): the consumer replays the gap before
// applying anything newer. Events at or below the position are duplicates and
// skipped.
//
// The following itself (replay, live feed, gap repair) is an eck::Follower
// (eck/follower.h): the live SUB socket subscribes to every topic ("") and
// filters in process, because the gap check needs the whole global sequence;
// replay filters on the broker. See docs/PROTOCOL.md.
//
// Events are applied in batches of up to max_batch per transaction. If the
// handler fails on any event of a batch, that transaction is rolled back and
// the batch is redone with one transaction per event (each also storing the
// position), so only the failing event is dead-lettered. The handler may
// therefore run more than once for an event, but only one run commits: keep
// its effects inside the transaction it is given.
//
// A handler rejects an event by throwing Rejected: its partial effects are
// rolled back, the event goes to <schema>.dead_letter with the reason, and
// the consumer goes on. Any other exception from the handler is treated the
// same way (recorded with what() as the reason), and so is a handler that
// swallows an SQL error (libpqxx has aborted the transaction by then).
// Database failures are not the handler's: pqxx::broken_connection, an
// ambiguous commit, deadlocks and serialization failures (SQLSTATE class
// 40), server shutdown, out of resources (53, 58). The consumer then
// resets the Database, backs off (100 ms doubling to 5 s), reads the
// stored position back (which tells whether an ambiguous commit happened)
// and retries; it never dead-letters because of the database. Events whose
// envelope does not decode are dead-lettered without reaching the handler.
//
// Several instances with the same name (a standby daemon) are safe: each
// batch transaction locks the position row first and gives way when another
// instance moved it. Only one makes progress at a time.
//
// Not thread-safe: run() and poll_once() own both sockets and the Database
// on the calling thread. stats() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "eck/db.h"
#include "eck/follower.h"  // Event
#include "eck/v1/envelope.pb.h"

namespace eck {

class Rejected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConsumerOptions {
  std::string name;                    // key in consumer_position; one per daemon role
  std::vector<std::string> topics;     // topic prefixes, e.g. {"pos.", "catalog."}
  std::string fanout_endpoint = "tcp://127.0.0.1:5571";
  std::string replay_endpoint = "tcp://127.0.0.1:5572";
  std::size_t max_batch = 1000;        // events per transaction and per replay request at most
  std::chrono::milliseconds replay_timeout{5000};  // resend a replay request after
  int rcvhwm = 100000;                 // live feed high-water mark (messages)
};

struct ConsumerStats {
  // Every event up to here has been applied, dead-lettered, or skipped as
  // not ours (the skipping is stored at the latest a second later, or with
  // the next batch).
  std::uint64_t position = 0;
  std::uint64_t applied = 0;        // events handed to the handler and committed
  std::uint64_t dead_lettered = 0;  // since start
  std::uint64_t gaps = 0;           // gap repairs started
  std::uint64_t duplicates = 0;     // live events at or below the position
};

// Optional, for handlers that buffer their writes and send them once per
// transaction (a few statements for a whole batch instead of a few per
// event: what makes a busy feed cheap).
struct TransactionHooks {
  // Runs after the handler saw the last event of a transaction, in that
  // transaction, before the position is stored. A throw counts as a handler
  // failure of the whole transaction: it is rolled back and redone event by
  // event, and the event whose transaction still fails is dead-lettered.
  std::function<void(pqxx::work&)> before_commit;
  // Runs whenever a transaction the handler may have seen does not commit
  // (handler or before_commit failure, database trouble, another instance
  // moved the position): drop whatever was buffered for it.
  std::function<void()> after_rollback;
};

class Consumer {
 public:
  // Runs inside the transaction that also stores the position.
  using Handler = std::function<void(const Event&, pqxx::work&)>;

  // REQUIRES: runtime_migrations() applied to db's schema; db outlives the
  // Consumer. Throws std::invalid_argument for an empty name or handler.
  // Connects nothing yet: the first run() or poll_once() does.
  Consumer(ConsumerOptions opts, Database& db, Handler handler, TransactionHooks hooks = {});
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Loads the position, connects, catches up, follows live until
  // keep_going() returns false (checked at least every `tick`, plus the time
  // one batch transaction takes). `on_tick` runs on every loop turn
  // (watchdog pings, stats); it may be empty. Throws only for what retrying
  // cannot fix, e.g. the runtime tables are missing.
  void run(const std::function<bool()>& keep_going,
           const std::function<void()>& on_tick = {},
           std::chrono::milliseconds tick = std::chrono::milliseconds(200));

  // Processes what is available within `budget` and returns; for tests and
  // for daemons that interleave other work. Connects on first use.
  void poll_once(std::chrono::milliseconds budget);

  ConsumerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eck
