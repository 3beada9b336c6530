// What every consuming daemon (inventory, pos, reorder, fiscal) does around
// its event handler, written once:
//
//   1. migrate its schema (the library's tables plus its own), retrying with
//      back-off while PostgreSQL is unreachable (a changed or unknown
//      migration stops the daemon: a person must look);
//   2. start the outbox relay (its own thread, Database and Publisher), so
//      events the handler enqueued reach the broker;
//   3. READY=1 and a log line starting with "ready";
//   4. run the Consumer on the calling thread until SIGTERM/SIGINT, with
//      watchdog pings and a STATUS line of its counters every tick;
//   5. STOPPING=1, finish the batch in hand (the consumer commits or rolls
//      back whole transactions only), give the relay a moment to publish
//      what is committed, stop.
//
//   eck::ServiceOptions o{.name = "inventory", .database = cfg.database, ...};
//   return eck::run_service(o, rt, handler, hooks);
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "eck/common_config.h"
#include "eck/consumer.h"
#include "eck/daemon.h"
#include "eck/db.h"
#include "eck/migrate.h"

namespace eck {

struct ServiceOptions {
  std::string name;                       // consumer name and log prefix, e.g. "inventory"
  DatabaseOptions database;               // schema = the daemon's own
  BusEndpoints bus;
  std::vector<std::string> topics;        // topic prefixes to consume
  std::vector<MigrationSet> migrations;   // the daemon's own; runtime_migrations() go first
  std::size_t max_batch = 1000;           // events per transaction at most
  bool outbox = true;                     // run an OutboxRelay for <schema>.outbox
  std::chrono::milliseconds drain_on_stop{2000};  // how long stop waits for the relay
};

// Returns the process exit code: 0 after a clean stop. Throws MigrationError
// (and what the handler's setup throws) for what retrying cannot fix.
int run_service(const ServiceOptions& opts, Runtime& rt, Consumer::Handler handler,
                TransactionHooks hooks = {});

// Step 1 alone (for daemons with more to do before consuming). False when
// asked to stop before it succeeded.
bool migrate_when_reachable(Database& db, const std::string& schema,
                            const std::vector<MigrationSet>& sets, Runtime& rt);

}  // namespace eck
