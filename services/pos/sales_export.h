// The sales export: one CSV row per sale line (and per voided line, with
// negative quantity and amount), for a spreadsheet to open as is: UTF-8
// with a byte order mark (so spreadsheet programs detect it), ';' as the
// separator and a decimal comma (German locale), a header row, fields with
// ';', '"' or line breaks quoted with '"' (doubled inside), CRLF line ends.
// The offline stand-in for a Google Sheets export.
#pragma once

#include <ostream>
#include <string>

#include <pqxx/pqxx>

namespace eck::pos {

// Sales (and voids) whose finished_at (voided_at) falls on a local date
// between `from` and `to` inclusive (YYYY-MM-DD, checked by the caller).
// Returns the number of rows written (header excluded).
std::size_t write_sales_csv(pqxx::transaction_base& tx, const std::string& from, const std::string& to,
                            std::ostream& out);

}  // namespace eck::pos
