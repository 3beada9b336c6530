// Broker: wires the journal, ingest, fan-out and replay together and runs
// the ingest loop on the calling thread.
//
// Life cycle: run() migrates the broker schema, becomes the journal writer
// (a standby waits here for the writer lock), binds its sockets, reports
// READY, and then loops: read every publish that is waiting (up to
// max_batch), NACK the invalid ones, append the rest to the journal in one
// transaction, ACK them, fan them out. While the database is unreachable it
// NACKs UNAVAILABLE and reconnects in the background of the loop.
#pragma once

#include <cstdint>

#include "broker_config.h"
#include "eck/daemon.h"

namespace eck::broker {

struct BrokerStats {
  std::uint64_t acked = 0;       // ACKs sent (duplicates included)
  std::uint64_t duplicates = 0;
  std::uint64_t nacked = 0;      // NACKs sent, UNAVAILABLE included
  std::uint64_t batches = 0;     // journal transactions committed
};

// Returns the process exit code: 0 after a clean stop, 1 when the writer
// lock was lost to another broker.
int run_broker(const BrokerConfig& cfg, Runtime& rt);

}  // namespace eck::broker
