#include "inventory_config.h"

#include "eck/config.h"

namespace eck::inventory {

InventoryConfig load_inventory_config(const std::string& path) {
  InventoryConfig c;
  auto doc = config::Document::load_file(path);
  auto root = doc.root();
  c.log_level = read_log_level(root);
  c.database = read_database(root, "inventory", "eck-inventory");
  c.bus = read_bus(root);
  auto s = root.section("inventory");
  c.max_batch = static_cast<std::size_t>(
      s.get_int("max_batch", static_cast<std::int64_t>(c.max_batch), 1, 10000));
  root.finish();
  return c;
}

}  // namespace eck::inventory
