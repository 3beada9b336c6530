#include "receipt_store.h"

namespace eck::pos {

namespace {

std::time_t epoch(const pqxx::field& f) { return f.is_null() ? 0 : f.as<std::int64_t>(); }

}  // namespace

std::optional<Receipt> load_receipt(pqxx::transaction_base& tx, const std::string& sale_id,
                                    const BusinessInfo& business) {
  auto s = tx.exec_params(
      "SELECT register_id, location, cashier, currency, extract(epoch FROM started_at)::bigint,"
      " extract(epoch FROM finished_at)::bigint, training, abandoned, gross_minor, change_minor,"
      " problems FROM sale WHERE sale_id = $1",
      sale_id);
  if (s.empty()) return std::nullopt;
  const auto& row = s[0];
  Receipt r;
  r.business = business;
  r.sale_id = sale_id;
  r.register_id = row[0].as<std::string>();
  r.location = row[1].as<std::string>();
  r.cashier = row[2].as<std::string>();
  r.currency = row[3].as<std::string>();
  r.started_at = epoch(row[4]);
  r.finished_at = epoch(row[5]);
  r.training = row[6].as<bool>();
  r.abandoned = row[7].as<bool>();
  r.gross_minor = row[8].as<std::int64_t>();
  r.change_minor = row[9].as<std::int64_t>();
  for (const auto& p : tx.exec_params("SELECT unnest(problems) FROM sale WHERE sale_id = $1", sale_id)) {
    r.problems.push_back(p[0].as<std::string>());
  }
  for (const auto& l : tx.exec_params(
           "SELECT line_no, name, sku, quantity_milli, unit_price_minor, discount_minor,"
           " line_total_minor, vat_category, vat_rate_bp FROM sale_line WHERE sale_id = $1"
           " ORDER BY line_no",
           sale_id)) {
    r.lines.push_back({l[0].as<int>(), l[1].as<std::string>(), l[2].as<std::string>(),
                       l[3].as<std::int64_t>(), l[4].as<std::int64_t>(), l[5].as<std::int64_t>(),
                       l[6].as<std::int64_t>(), l[7].as<int>(), l[8].as<int>()});
  }
  for (const auto& v : tx.exec_params(
           "SELECT vat_category, vat_rate_bp, net_minor, vat_minor, gross_minor FROM sale_vat"
           " WHERE sale_id = $1 ORDER BY vat_category, vat_rate_bp",
           sale_id)) {
    r.vat.push_back({v[0].as<int>(), v[1].as<int>(), v[2].as<std::int64_t>(), v[3].as<std::int64_t>(),
                     v[4].as<std::int64_t>()});
  }
  for (const auto& p : tx.exec_params(
           "SELECT method, amount_minor, currency FROM sale_payment WHERE sale_id = $1 ORDER BY idx",
           sale_id)) {
    r.payments.push_back({p[0].as<int>(), p[1].as<std::int64_t>(), p[2].as<std::string>()});
  }
  auto sig = tx.exec_params(
      "SELECT transaction_number, signature_counter, signature, tse_serial, algorithm, qr_code,"
      " extract(epoch FROM started_at)::bigint, extract(epoch FROM finished_at)::bigint, certified,"
      " error FROM receipt_signature WHERE sale_id = $1 AND void_id = ''",
      sale_id);
  if (!sig.empty()) {
    const auto& g = sig[0];
    r.signature = ReceiptSignature{g[0].as<std::uint64_t>(), g[1].as<std::uint64_t>(),
                                   g[2].as<std::string>(),   g[3].as<std::string>(),
                                   g[4].as<std::string>(),   g[5].as<std::string>(),
                                   epoch(g[6]),              epoch(g[7]),
                                   g[8].as<bool>(),          g[9].as<std::string>()};
  }
  return r;
}

}  // namespace eck::pos
