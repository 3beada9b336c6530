#include "eck/common_config.h"


namespace eck {

std::string read_log_level(config::Section& root) {
  auto s = root.section("log");
  return s.get_choice("level", "info", {"trace", "debug", "info", "warn", "error", "critical", "off"});
}

DatabaseOptions read_database(config::Section& root, const std::string& schema,
                              const std::string& application_name) {
  auto s = root.section("database");
  DatabaseOptions o;
  o.url = s.require_string("url");
  o.schema = schema;
  o.application_name = application_name;
  return o;
}

BusEndpoints read_bus(config::Section& root) {
  auto s = root.section("bus");
  BusEndpoints b;
  b.ingest = s.get_string("ingest", b.ingest);
  b.fanout = s.get_string("fanout", b.fanout);
  b.replay = s.get_string("replay", b.replay);
  return b;
}

}  // namespace eck
