// eck-pos configuration (/etc/eck/pos.yaml). Every key is listed in
// docs/OPERATIONS.md; unknown keys are rejected with file and line.
#pragma once

#include <cstddef>
#include <string>

#include "eck/common_config.h"
#include "eck/db.h"
#include "receipt.h"

namespace eck::pos {

struct PosConfig {
  std::string log_level = "info";
  DatabaseOptions database{"postgresql:///eck", "pos", "eck-pos"};
  BusEndpoints bus;
  std::size_t max_batch = 1000;  // events per database transaction at most
  BusinessInfo business;         // printed on receipts and Z-reports
};

// Throws eck::config::ConfigError.
PosConfig load_pos_config(const std::string& path);

}  // namespace eck::pos
