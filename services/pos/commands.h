// eck-pos commands for ops and the till's back office (read-only):
//   receipt SALE_ID [--format text|escpos] [--width N]   print a receipt
//   zreport --register R [--z N]                         print a Z-report (latest without --z)
//   export --from YYYY-MM-DD --to YYYY-MM-DD [--out FILE] sales as CSV (sales_export.h)
//   problems [--limit N]                                 sales, voids and cash movements flagged
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "eck/db.h"
#include "pos_config.h"

namespace eck::pos {

bool is_command(const std::string& name);
// args[0] is the command. Returns the exit code: 0 ok, 1 not found / failed,
// 2 usage error (message on err). Database errors propagate.
int run_command(Database& db, const PosConfig& cfg, const std::vector<std::string>& args,
                std::ostream& out, std::ostream& err);

}  // namespace eck::pos
