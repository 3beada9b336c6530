// eck-inventory configuration (/etc/eck/inventory.yaml). Every key is listed
// in docs/OPERATIONS.md; unknown keys are rejected with file and line.
#pragma once

#include <cstddef>
#include <string>

#include "eck/common_config.h"
#include "eck/db.h"

namespace eck::inventory {

struct InventoryConfig {
  std::string log_level = "info";
  DatabaseOptions database{"postgresql:///eck", "inventory", "eck-inventory"};
  BusEndpoints bus;
  std::size_t max_batch = 1000;  // events per database transaction at most
};

// Throws eck::config::ConfigError.
InventoryConfig load_inventory_config(const std::string& path);

}  // namespace eck::inventory
