// eck-pos: the sales ledger daemon (books, drawer sessions, Z-reports), and
// its back-office commands (receipts, Z-reports, export).
#include <iostream>

#include "commands.h"
#include "eck/daemon.h"
#include "pos_config.h"
#include "pos_daemon.h"

namespace {
constexpr const char* kUsage =
    "usage: eck-pos [--config PATH] [--check-config] [--version] [COMMAND [OPTIONS]]\n"
    "Without a command, runs the pos daemon (sales ledger, cash drawer, Z-reports).\n"
    "Commands (read-only):\n"
    "  receipt SALE_ID [--format text|escpos] [--width N]   print a receipt\n"
    "  zreport --register R [--z N]                         print a Z-report (latest by default)\n"
    "  export --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE] sales lines as CSV\n"
    "  problems [--limit N]                                 flagged sales, voids, cash movements\n";
}

int main(int argc, char** argv) {
  auto cli = eck::parse_command_line(argc, argv, "eck-pos", kUsage, "/etc/eck/pos.yaml");
  auto cfg = eck::load_config_or_exit(cli, eck::pos::load_pos_config);
  if (cli.check_config) return eck::config_ok(cli);
  if (!cli.args.empty()) {
    return eck::run_command_line_tool(cli, kUsage, eck::pos::is_command, [&] {
      eck::Database db(cfg.database);
      return eck::pos::run_command(db, cfg, cli.args, std::cout, std::cerr);
    });
  }
  return eck::run_daemon(cli, cfg.log_level, [&](eck::Runtime& rt) { return eck::pos::run_pos(cfg, rt); });
}
