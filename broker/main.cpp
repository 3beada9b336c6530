// eck-broker: durable journal, fan-out and replay for eck events.
#include "broker.h"
#include "eck/daemon.h"

namespace {
constexpr const char* kUsage =
    "usage: eck-broker [--config PATH] [--check-config] [--version]\n"
    "Runs the eck broker: ingest (ACK after fsync), fan-out and replay.\n";
}

int main(int argc, char** argv) {
  auto cli = eck::parse_command_line(argc, argv, "eck-broker", kUsage, "/etc/eck/broker.yaml");
  auto cfg = eck::load_config_or_exit(cli, eck::broker::load_broker_config);
  if (cli.check_config) return eck::config_ok(cli);
  return eck::run_daemon(cli, cfg.log_level,
                         [&](eck::Runtime& rt) { return eck::broker::run_broker(cfg, rt); });
}
