// eck-broker configuration (/etc/eck/broker.yaml). Every key is listed in
// docs/OPERATIONS.md; unknown keys are rejected with file and line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "eck/db.h"

namespace eck::broker {

struct BrokerConfig {
  std::string log_level = "info";
  DatabaseOptions database{"postgresql:///eck", "broker", "eck-broker"};
  std::string ingest = "tcp://127.0.0.1:5570";   // ROUTER: publishes in, ACK/NACK out
  std::string fanout = "tcp://127.0.0.1:5571";   // XPUB: committed events out
  std::string replay = "tcp://127.0.0.1:5572";   // ROUTER: journal ranges on request
  std::size_t max_event_bytes = 1 << 20;         // larger envelopes are NACKed TOO_LARGE
  std::size_t max_batch = 4000;                  // publishes per journal transaction
  std::chrono::milliseconds heartbeat{200};      // heartbeat period on the fan-out
  int fanout_hwm = 200000;                       // per-subscriber queue, messages
  std::chrono::milliseconds standby_retry{1000}; // how often a standby retries the writer lock
};

// Throws eck::config::ConfigError.
BrokerConfig load_broker_config(const std::string& path);

}  // namespace eck::broker
