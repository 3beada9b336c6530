#include "inventory_process.h"

namespace eck::test {

InventoryProcess::InventoryProcess(std::string database_url, const BusEndpoints& bus,
                                   InventoryOptions opts)
    : DaemonProcess("inventory", "services/inventory/eck-inventory") {
  std::string yaml = daemon_config_yaml(opts.log_level, database_url, bus);
  if (!opts.extra_yaml.empty()) yaml += "inventory:\n" + opts.extra_yaml;
  write_config(yaml);
}

}  // namespace eck::test
