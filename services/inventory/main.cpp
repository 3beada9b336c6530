// eck-inventory: the stock ledger daemon, and its ops commands.
#include <iostream>

#include "eck/daemon.h"
#include "eck/db.h"
#include "inventory_config.h"
#include "inventory_daemon.h"
#include "reports.h"

namespace {
constexpr const char* kUsage =
    "usage: eck-inventory [--config PATH] [--check-config] [--version] [COMMAND [OPTIONS]]\n"
    "Without a command, runs the inventory daemon (the stock ledger).\n"
    "Commands (read-only, for ops; COMMAND --help for details):\n"
    "  levels [--sku S | --barcode B] [--location L] [--below]   stock levels\n"
    "  movements (--sku S | --barcode B) [--location L] [--limit N]\n"
    "                                   the ledger of one product\n"
    "  unknown                          products the catalog has not described\n"
    "                                   (created by sales, receipts, rules ...)\n"
    "  check                            every level == sum of its movements? (exit 1 if not)\n";
}

int main(int argc, char** argv) {
  auto cli = eck::parse_command_line(argc, argv, "eck-inventory", kUsage, "/etc/eck/inventory.yaml");
  auto cfg = eck::load_config_or_exit(cli, eck::inventory::load_inventory_config);
  if (cli.check_config) return eck::config_ok(cli);

  if (!cli.args.empty()) {
    return eck::run_command_line_tool(cli, kUsage, eck::inventory::is_report_command, [&] {
      eck::Database db(cfg.database);
      return eck::inventory::run_report(db, cli.args, std::cout, std::cerr);
    });
  }
  return eck::run_daemon(cli, cfg.log_level, [&](eck::Runtime& rt) {
    return eck::inventory::run_inventory(cfg, rt);
  });
}
