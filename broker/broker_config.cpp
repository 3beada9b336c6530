#include "broker_config.h"

#include "eck/common_config.h"
#include "eck/config.h"

namespace eck::broker {

BrokerConfig load_broker_config(const std::string& path) {
  BrokerConfig c;
  auto doc = config::Document::load_file(path);
  auto root = doc.root();
  c.log_level = read_log_level(root);
  c.database = read_database(root, "broker", "eck-broker");
  auto b = root.section("broker");
  c.ingest = b.get_string("ingest", c.ingest);
  c.fanout = b.get_string("fanout", c.fanout);
  c.replay = b.get_string("replay", c.replay);
  c.max_event_bytes = static_cast<std::size_t>(
      b.get_int("max_event_bytes", static_cast<std::int64_t>(c.max_event_bytes), 256, 64 << 20));
  c.max_batch = static_cast<std::size_t>(
      b.get_int("max_batch", static_cast<std::int64_t>(c.max_batch), 1, 100000));
  c.heartbeat = std::chrono::milliseconds(b.get_int("heartbeat_ms", c.heartbeat.count(), 10, 10000));
  c.fanout_hwm = static_cast<int>(b.get_int("fanout_hwm", c.fanout_hwm, 1000, 10000000));
  c.standby_retry =
      std::chrono::milliseconds(b.get_int("standby_retry_ms", c.standby_retry.count(), 50, 60000));
  root.finish();
  return c;
}

}  // namespace eck::broker
