// eck-broker: durable journal, fan-out and replay for eck events.
#include <spdlog/spdlog.h>

#include "broker.h"
#include "eck/config.h"
#include "eck/daemon.h"
#include "eck/log.h"
#include "eck/migrate.h"

namespace {
constexpr const char* kUsage =
    "usage: eck-broker [--config PATH] [--check-config] [--version]\n"
    "Runs the eck broker: ingest (ACK after fsync), fan-out and replay.\n";
}

int main(int argc, char** argv) {
  auto cli = eck::parse_command_line(argc, argv, "eck-broker", kUsage, "/etc/eck/broker.yaml");
  eck::broker::BrokerConfig cfg;
  try {
    cfg = eck::broker::load_broker_config(cli.config_path);
  } catch (const eck::config::ConfigError& e) {
    fmt::print(stderr, "eck-broker: {}\n", e.what());
    return 2;
  }
  if (cli.check_config) return eck::config_ok(cli);
  eck::log::init("eck-broker", cfg.log_level);
  eck::Runtime rt;
  try {
    return eck::broker::run_broker(cfg, rt);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}
