// The ops commands of eck-inventory: read-only views of the stock ledger
// (schema/inventory/0001_stock_ledger.sql) for the people who run the shop.
//
//   eck-inventory levels [--sku S | --barcode B] [--location L] [--below]
//   eck-inventory movements (--sku S | --barcode B) [--location L] [--limit N]
//   eck-inventory unknown
//   eck-inventory check
//
// Quantities are printed as decimal units with three decimals (1500 milli ->
// "1.500", -250 -> "-0.250"), computed on integers only. Products are named
// by their sku; one without a sku by "barcode:<its smallest barcode>", or
// "#<id>" when it has no barcode either. Times are UTC.
//
// `check` reads everything in one REPEATABLE READ, read-only transaction, so
// it sees one consistent snapshot while the daemon keeps writing. It verifies
// that every stock_level equals the sum of its movements, that every
// (product, location) with movements has a stock_level row, and that every
// movement's level_after is the running sum of its (product, location) in
// id order; it prints the first 50 problems of each kind and their counts.
//
// Exit codes: 0 ok; 1 `check` found a problem, or --sku/--barcode/--location
// names nothing that exists; 2 usage error (message and usage on err).
// Database errors propagate as exceptions.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "eck/db.h"

namespace eck::inventory {

// True for "levels", "movements", "unknown", "check".
bool is_report_command(const std::string& name);

// Runs one ops command; args[0] is the command name, the rest its options
// (strict: an unknown option is a usage error). Reads through db, whose
// search_path is the inventory schema. Returns the exit code (see above).
int run_report(Database& db, const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace eck::inventory
