#include "pos_config.h"

#include "eck/config.h"

namespace eck::pos {

PosConfig load_pos_config(const std::string& path) {
  PosConfig c;
  auto doc = config::Document::load_file(path);
  auto root = doc.root();
  c.log_level = read_log_level(root);
  c.database = read_database(root, "pos", "eck-pos");
  c.bus = read_bus(root);
  auto s = root.section("pos");
  c.max_batch = static_cast<std::size_t>(
      s.get_int("max_batch", static_cast<std::int64_t>(c.max_batch), 1, 10000));
  auto b = root.section("business");
  c.business.name = b.get_string("name", "");
  c.business.address = b.get_string_list("address", {});
  c.business.tax_number = b.get_string("tax_number", "");
  c.business.vat_id = b.get_string("vat_id", "");
  root.finish();
  return c;
}

}  // namespace eck::pos
