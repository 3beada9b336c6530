// Z-reports: the closing of a cash drawer session, computed from the books.
//
// Totals cover the session's sales (training and abandoned sales excluded;
// training shown apart), its voids (negative), and its cash movements:
// - per VAT rate: net, VAT and gross of sales minus voids;
// - per payment method: what was taken (cash: tendered minus change) minus
//   what voids refunded;
// - per business case: sales, voids, cash in, cash out (count and amount);
// - cash: expected = float + cash tendered - change + cash in - cash out -
//   cash refunds, against the counted amount; difference = counted - expected.
// Sales and voids flagged with problems are included (they happened) and
// counted in flagged_count. Voids of training or abandoned sales are left
// out like the sales themselves.
//
// ZTotal rows: "vat" (key "STANDARD 19.00 %": count = sales with lines at
// that rate; net, VAT, gross of sales minus voids, VAT rounded per sale and
// per void); "payment" (key "CASH", "DEBIT_CARD" ...: count = payments plus
// refunds; gross = net amount kept); "business_case" (keys sales, voids,
// cash_in, cash_out: count and gross; voids and cash_out negative).
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "receipt.h"  // BusinessInfo

namespace eck::pos {

struct ZTotal {
  std::string kind;  // "vat", "payment", "business_case"
  std::string key;   // "STANDARD 19.00 %", "CASH", "sales", "voids", "cash_in", "cash_out"
  std::int64_t count = 0;
  std::int64_t net_minor = 0;
  std::int64_t vat_minor = 0;
  std::int64_t gross_minor = 0;
};

struct ZReport {
  std::string register_id;
  std::int64_t z_number = 0;  // 0 until stored
  std::string session_id;
  std::string currency;
  std::string cashier;
  std::time_t opened_at = 0;
  std::time_t closed_at = 0;
  std::int64_t sales_count = 0, sales_gross_minor = 0;
  std::int64_t voids_count = 0, voids_gross_minor = 0;
  std::int64_t cash_in_minor = 0, cash_out_minor = 0;
  std::int64_t opening_float_minor = 0, cash_sales_minor = 0, change_minor = 0;
  std::int64_t cash_refunds_minor = 0;
  std::int64_t expected_cash_minor = 0, counted_cash_minor = 0, difference_minor = 0;
  std::optional<std::string> first_sale_id, last_sale_id;
  std::int64_t training_count = 0, training_gross_minor = 0;
  std::int64_t flagged_count = 0;
  std::vector<ZTotal> totals;
};

// From the books of a closed session (closed_at and counted_minor set).
ZReport compute_z_report(pqxx::work& tx, const std::string& session_id);
// Stores it with the register's next Z number (gap-free: one writer, in the
// transaction that closes the session) and returns that number.
std::int64_t store_z_report(pqxx::work& tx, ZReport& z, std::uint64_t seq);
// A stored Z-report: number z of the register, or its latest.
std::optional<ZReport> load_z_report(pqxx::transaction_base& tx, const std::string& register_id,
                                     std::optional<std::int64_t> z_number);
// 42 columns, German labels like the receipts.
std::string render_z_report(const ZReport& z, const BusinessInfo& business, int width = 42);

}  // namespace eck::pos
