#include "sales_export.h"

#include <array>

#include "receipt.h"  // format_minor, format_milli

namespace eck::pos {

namespace {

constexpr std::array<const char*, 19> kHeader = {
    "type",     "date",     "time",       "register",   "location",   "document",  "original_sale",
    "cashier",  "line",     "sku",        "barcode",    "name",       "quantity",  "unit_price",
    "discount", "line_total", "vat_rate", "currency",   "training"};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(";\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_row(std::ostream& out, const std::vector<std::string>& fields) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out << ';';
    out << csv_field(fields[i]);
  }
  out << "\r\n";
}

std::string rate(int bp) { return format_minor(bp) + " %"; }

}  // namespace

std::size_t write_sales_csv(pqxx::transaction_base& tx, const std::string& from, const std::string& to,
                            std::ostream& out) {
  out << "\xEF\xBB\xBF";  // BOM: spreadsheets then read UTF-8
  write_row(out, std::vector<std::string>(kHeader.begin(), kHeader.end()));
  // Sale lines and voided lines in one time-ordered list; local dates.
  auto rows = tx.exec_params(
      "SELECT 'sale', to_char(s.finished_at, 'YYYY-MM-DD'), to_char(s.finished_at, 'HH24:MI:SS'),"
      "       s.register_id, s.location, s.sale_id, '', s.cashier, l.line_no, l.sku, l.barcode, l.name,"
      "       l.quantity_milli, l.unit_price_minor, l.discount_minor, l.line_total_minor, l.vat_rate_bp,"
      "       s.currency, s.training, s.seq"
      "  FROM sale s JOIN sale_line l USING (sale_id)"
      " WHERE s.finished_at::date BETWEEN $1::date AND $2::date"
      " UNION ALL "
      "SELECT 'void', to_char(v.voided_at, 'YYYY-MM-DD'), to_char(v.voided_at, 'HH24:MI:SS'),"
      "       v.register_id, v.location, v.void_id, v.original_sale_id, v.cashier, vl.line_no,"
      "       coalesce(l.sku, ''), coalesce(l.barcode, ''), coalesce(l.name, ''), -vl.quantity_milli,"
      "       coalesce(l.unit_price_minor, 0), 0, -vl.gross_minor, vl.vat_rate_bp, v.currency,"
      "       coalesce(s.training, false), v.seq"
      "  FROM sale_void v JOIN sale_void_line vl USING (void_id)"
      "  LEFT JOIN sale s ON s.sale_id = v.original_sale_id"
      "  LEFT JOIN sale_line l ON l.sale_id = v.original_sale_id AND l.line_no = vl.line_no"
      " WHERE v.voided_at::date BETWEEN $1::date AND $2::date"
      " ORDER BY 20, 9",
      from, to);
  for (const auto& r : rows) {
    write_row(out, {r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                    r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>(),
                    r[6].as<std::string>(), r[7].as<std::string>(), r[8].as<std::string>(),
                    r[9].as<std::string>(), r[10].as<std::string>(), r[11].as<std::string>(),
                    format_milli(r[12].as<std::int64_t>()), format_minor(r[13].as<std::int64_t>()),
                    format_minor(r[14].as<std::int64_t>()), format_minor(r[15].as<std::int64_t>()),
                    rate(r[16].as<int>()), r[17].as<std::string>(),
                    r[18].as<bool>() ? "ja" : "nein"});
  }
  return rows.size();
}

}  // namespace eck::pos
