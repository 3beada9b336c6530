// Configuration sections every daemon shares, read the same way everywhere:
//
//   log:
//     level: info            # trace, debug, info, warn, error, critical, off
//   database:
//     url: "postgresql://eck_inventory@/eck?host=/run/postgresql"
//   bus:                     # where the broker is (clients only)
//     ingest: "tcp://127.0.0.1:5570"
//     fanout: "tcp://127.0.0.1:5571"
//     replay: "tcp://127.0.0.1:5572"
#pragma once

#include <string>

#include "eck/config.h"
#include "eck/db.h"

namespace eck {

struct BusEndpoints {
  std::string ingest = "tcp://127.0.0.1:5570";
  std::string fanout = "tcp://127.0.0.1:5571";
  std::string replay = "tcp://127.0.0.1:5572";
};

// Throws config::ConfigError (file, line, key) for a level log::init would refuse.
std::string read_log_level(config::Section& root);
DatabaseOptions read_database(config::Section& root, const std::string& schema,
                              const std::string& application_name);
BusEndpoints read_bus(config::Section& root);

}  // namespace eck
