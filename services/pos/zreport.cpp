#include "zreport.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "eck/v1/common.pb.h"
#include "sale_checks.h"

namespace eck::pos {

namespace {

std::string vat_key(int category, int rate_bp) {
  std::string name = v1::VatCategory_IsValid(category)
                         ? v1::VatCategory_Name(static_cast<v1::VatCategory>(category))
                         : std::to_string(category);
  if (name.rfind("VAT_CATEGORY_", 0) == 0) name = name.substr(13);
  return name + " " + rate_text(rate_bp);
}

std::string method_key(int method) {
  std::string name = v1::PaymentMethod_IsValid(method)
                         ? v1::PaymentMethod_Name(static_cast<v1::PaymentMethod>(method))
                         : std::to_string(method);
  if (name.rfind("PAYMENT_METHOD_", 0) == 0) name = name.substr(15);
  return name;
}

// Sales of the session that count: not training, not abandoned.
constexpr const char* kCounted = "s.session_id = $1 AND NOT s.training AND NOT s.abandoned";
// Voids of the session whose original sale counted (or is unknown).
constexpr const char* kVoids =
    "v.session_id = $1 AND NOT EXISTS (SELECT 1 FROM sale o WHERE o.sale_id = v.original_sale_id"
    " AND (o.training OR o.abandoned))";

std::int64_t scalar(pqxx::work& tx, const std::string& sql, const std::string& session) {
  return tx.exec_params1(sql, session)[0].as<std::int64_t>();
}

void vat_totals(pqxx::work& tx, const std::string& session, ZReport& z) {
  std::map<std::pair<int, int>, ZTotal> by_rate;
  for (const auto& r : tx.exec_params(
           std::string("SELECT x.vat_category, x.vat_rate_bp, count(DISTINCT s.sale_id), sum(x.net_minor),"
                       " sum(x.vat_minor), sum(x.gross_minor) FROM sale_vat x JOIN sale s USING (sale_id)"
                       " WHERE ") + kCounted + " GROUP BY 1, 2",
           session)) {
    auto& t = by_rate[{r[0].as<int>(), r[1].as<int>()}];
    t.count = r[2].as<std::int64_t>();
    t.net_minor = r[3].as<std::int64_t>();
    t.vat_minor = r[4].as<std::int64_t>();
    t.gross_minor = r[5].as<std::int64_t>();
  }
  // Voids: the VAT of what each took back, per rate, rounded per void like
  // a sale's per sale (so voiding a whole sale takes back exactly its VAT).
  for (const auto& r : tx.exec_params(
           std::string("SELECT l.vat_category, l.vat_rate_bp, sum(l.gross_minor)"
                       " FROM sale_void_line l JOIN sale_void v USING (void_id) WHERE ") + kVoids +
               " GROUP BY v.void_id, 1, 2",
           session)) {
    const int rate = r[1].as<int>();
    const auto gross = r[2].as<std::int64_t>();
    const auto vat = vat_of_gross(gross, rate);
    auto& t = by_rate[{r[0].as<int>(), rate}];
    t.gross_minor -= gross;
    t.vat_minor -= vat;
    t.net_minor -= gross - vat;
  }
  for (auto& [k, t] : by_rate) {
    t.kind = "vat";
    t.key = vat_key(k.first, k.second);
    z.totals.push_back(t);
  }
}

void payment_totals(pqxx::work& tx, const std::string& session, ZReport& z) {
  std::map<int, ZTotal> by_method;
  for (const auto& r : tx.exec_params(
           std::string("SELECT p.method, count(*), sum(p.amount_minor) FROM sale_payment p"
                       " JOIN sale s USING (sale_id) WHERE ") + kCounted + " GROUP BY 1",
           session)) {
    auto& t = by_method[r[0].as<int>()];
    t.count = r[1].as<std::int64_t>();
    t.gross_minor = r[2].as<std::int64_t>();
  }
  by_method[v1::PAYMENT_METHOD_CASH].gross_minor -= z.change_minor;  // change left the drawer
  for (const auto& r : tx.exec_params(
           std::string("SELECT f.method, count(*), sum(f.amount_minor) FROM sale_void_refund f"
                       " JOIN sale_void v USING (void_id) WHERE ") + kVoids + " GROUP BY 1",
           session)) {
    auto& t = by_method[r[0].as<int>()];
    t.count += r[1].as<std::int64_t>();
    t.gross_minor -= r[2].as<std::int64_t>();
  }
  for (auto& [method, t] : by_method) {
    if (t.count == 0 && t.gross_minor == 0) continue;
    t.kind = "payment";
    t.key = method_key(method);
    t.net_minor = t.vat_minor = 0;
    z.totals.push_back(t);
  }
}

// Amounts (gross) per business case; VAT is in the per-rate totals.
void business_cases(pqxx::work& tx, const std::string& session, ZReport& z) {
  auto moves = tx.exec_params1(
      "SELECT count(*) FILTER (WHERE direction = 'in'), count(*) FILTER (WHERE direction = 'out')"
      " FROM cash_movement WHERE session_id = $1",
      session);
  z.totals.push_back({"business_case", "sales", z.sales_count, 0, 0, z.sales_gross_minor});
  z.totals.push_back({"business_case", "voids", z.voids_count, 0, 0, -z.voids_gross_minor});
  z.totals.push_back({"business_case", "cash_in", moves[0].as<std::int64_t>(), 0, 0, z.cash_in_minor});
  z.totals.push_back({"business_case", "cash_out", moves[1].as<std::int64_t>(), 0, 0, -z.cash_out_minor});
}

}  // namespace

ZReport compute_z_report(pqxx::work& tx, const std::string& session_id) {
  ZReport z;
  auto s = tx.exec_params1(
      "SELECT register_id, session_id, currency, cashier, extract(epoch FROM opened_at)::bigint,"
      " extract(epoch FROM closed_at)::bigint, opening_float_minor, counted_minor"
      " FROM drawer_session WHERE session_id = $1",
      session_id);
  z.register_id = s[0].as<std::string>();
  z.session_id = s[1].as<std::string>();
  z.currency = s[2].as<std::string>();
  z.cashier = s[3].as<std::string>();
  z.opened_at = s[4].as<std::int64_t>();
  z.closed_at = s[5].as<std::int64_t>();
  z.opening_float_minor = s[6].as<std::int64_t>();
  z.counted_cash_minor = s[7].as<std::int64_t>();

  auto sales = tx.exec_params1(
      std::string("SELECT count(*), coalesce(sum(gross_minor), 0), coalesce(sum(change_minor), 0)"
                  " FROM sale s WHERE ") + kCounted,
      session_id);
  z.sales_count = sales[0].as<std::int64_t>();
  z.sales_gross_minor = sales[1].as<std::int64_t>();
  z.change_minor = sales[2].as<std::int64_t>();
  z.cash_sales_minor = scalar(
      tx,
      std::string("SELECT coalesce(sum(p.amount_minor), 0) FROM sale_payment p JOIN sale s USING (sale_id)"
                  " WHERE p.method = 1 AND ") + kCounted,
      session_id);
  auto first_last = tx.exec_params(
      std::string("SELECT (SELECT sale_id FROM sale s WHERE ") + kCounted +
          " ORDER BY seq LIMIT 1), (SELECT sale_id FROM sale s WHERE " + kCounted +
          " ORDER BY seq DESC LIMIT 1)",
      session_id);
  if (!first_last[0][0].is_null()) z.first_sale_id = first_last[0][0].as<std::string>();
  if (!first_last[0][1].is_null()) z.last_sale_id = first_last[0][1].as<std::string>();
  auto training = tx.exec_params1(
      "SELECT count(*), coalesce(sum(gross_minor), 0) FROM sale WHERE session_id = $1 AND training",
      session_id);
  z.training_count = training[0].as<std::int64_t>();
  z.training_gross_minor = training[1].as<std::int64_t>();

  auto voids = tx.exec_params1(
      std::string("SELECT count(*), coalesce(sum(gross_minor), 0) FROM sale_void v WHERE ") + kVoids,
      session_id);
  z.voids_count = voids[0].as<std::int64_t>();
  z.voids_gross_minor = voids[1].as<std::int64_t>();
  z.cash_refunds_minor = scalar(
      tx,
      std::string("SELECT coalesce(sum(f.amount_minor), 0) FROM sale_void_refund f"
                  " JOIN sale_void v USING (void_id) WHERE f.method = 1 AND ") + kVoids,
      session_id);

  auto cash = tx.exec_params1(
      "SELECT coalesce(sum(amount_minor) FILTER (WHERE direction = 'in'), 0),"
      " coalesce(sum(amount_minor) FILTER (WHERE direction = 'out'), 0)"
      " FROM cash_movement WHERE session_id = $1",
      session_id);
  z.cash_in_minor = cash[0].as<std::int64_t>();
  z.cash_out_minor = cash[1].as<std::int64_t>();
  z.flagged_count = scalar(tx,
                           "SELECT (SELECT count(*) FROM sale WHERE session_id = $1 AND problems <> '{}')"
                           " + (SELECT count(*) FROM sale_void WHERE session_id = $1 AND problems <> '{}')"
                           " + (SELECT count(*) FROM cash_movement WHERE session_id = $1 AND problems <> '{}')",
                           session_id);

  z.expected_cash_minor = z.opening_float_minor + z.cash_sales_minor - z.change_minor +
                          z.cash_in_minor - z.cash_out_minor - z.cash_refunds_minor;
  z.difference_minor = z.counted_cash_minor - z.expected_cash_minor;
  vat_totals(tx, session_id, z);
  payment_totals(tx, session_id, z);
  business_cases(tx, session_id, z);
  return z;
}

std::int64_t store_z_report(pqxx::work& tx, ZReport& z, std::uint64_t seq) {
  z.z_number = tx.exec_params1("SELECT coalesce(max(z_number), 0) + 1 FROM z_report WHERE register_id = $1",
                               z.register_id)[0]
                   .as<std::int64_t>();
  tx.exec_params0(
      "INSERT INTO z_report (register_id, z_number, session_id, seq, currency, opened_at, closed_at,"
      " cashier, sales_count, sales_gross_minor, voids_count, voids_gross_minor, cash_in_minor,"
      " cash_out_minor, opening_float_minor, cash_sales_minor, change_minor, cash_refunds_minor,"
      " expected_cash_minor, counted_cash_minor, difference_minor, first_sale_id, last_sale_id,"
      " training_count, training_gross_minor, flagged_count)"
      " VALUES ($1, $2, $3, $4, $5, to_timestamp($6), to_timestamp($7), $8, $9, $10, $11, $12, $13,"
      " $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)",
      z.register_id, z.z_number, z.session_id, seq, z.currency, static_cast<std::int64_t>(z.opened_at),
      static_cast<std::int64_t>(z.closed_at), z.cashier, z.sales_count, z.sales_gross_minor,
      z.voids_count, z.voids_gross_minor, z.cash_in_minor, z.cash_out_minor, z.opening_float_minor,
      z.cash_sales_minor, z.change_minor, z.cash_refunds_minor, z.expected_cash_minor,
      z.counted_cash_minor, z.difference_minor, z.first_sale_id, z.last_sale_id, z.training_count,
      z.training_gross_minor, z.flagged_count);
  for (const auto& t : z.totals) {
    tx.exec_params0(
        "INSERT INTO z_report_total (register_id, z_number, kind, key, count, net_minor, vat_minor,"
        " gross_minor) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        z.register_id, z.z_number, t.kind, t.key, t.count, t.net_minor, t.vat_minor, t.gross_minor);
  }
  tx.exec_params0("UPDATE drawer_session SET z_number = $2 WHERE session_id = $1", z.session_id,
                  z.z_number);
  return z.z_number;
}

std::optional<ZReport> load_z_report(pqxx::transaction_base& tx, const std::string& register_id,
                                     std::optional<std::int64_t> z_number) {
  auto r = tx.exec_params(
      "SELECT z_number, session_id, currency, cashier, extract(epoch FROM opened_at)::bigint,"
      " extract(epoch FROM closed_at)::bigint, sales_count, sales_gross_minor, voids_count,"
      " voids_gross_minor, cash_in_minor, cash_out_minor, opening_float_minor, cash_sales_minor,"
      " change_minor, cash_refunds_minor, expected_cash_minor, counted_cash_minor, difference_minor,"
      " first_sale_id, last_sale_id, training_count, training_gross_minor, flagged_count"
      " FROM z_report WHERE register_id = $1 AND ($2::bigint IS NULL OR z_number = $2)"
      " ORDER BY z_number DESC LIMIT 1",
      register_id, z_number);
  if (r.empty()) return std::nullopt;
  const auto& row = r[0];
  ZReport z;
  z.register_id = register_id;
  z.z_number = row[0].as<std::int64_t>();
  z.session_id = row[1].as<std::string>();
  z.currency = row[2].as<std::string>();
  z.cashier = row[3].as<std::string>();
  z.opened_at = row[4].as<std::int64_t>();
  z.closed_at = row[5].as<std::int64_t>();
  std::int64_t* fields[] = {&z.sales_count,        &z.sales_gross_minor,   &z.voids_count,
                            &z.voids_gross_minor,  &z.cash_in_minor,       &z.cash_out_minor,
                            &z.opening_float_minor, &z.cash_sales_minor,   &z.change_minor,
                            &z.cash_refunds_minor, &z.expected_cash_minor, &z.counted_cash_minor,
                            &z.difference_minor};
  for (int i = 0; i < 13; ++i) *fields[i] = row[6 + i].as<std::int64_t>();
  if (!row[19].is_null()) z.first_sale_id = row[19].as<std::string>();
  if (!row[20].is_null()) z.last_sale_id = row[20].as<std::string>();
  z.training_count = row[21].as<std::int64_t>();
  z.training_gross_minor = row[22].as<std::int64_t>();
  z.flagged_count = row[23].as<std::int64_t>();
  for (const auto& t : tx.exec_params(
           "SELECT kind, key, count, net_minor, vat_minor, gross_minor FROM z_report_total"
           " WHERE register_id = $1 AND z_number = $2"
           " ORDER BY CASE kind WHEN 'vat' THEN 1 WHEN 'payment' THEN 2 ELSE 3 END,"
           " array_position(ARRAY['sales', 'voids', 'cash_in', 'cash_out'], key), key",
           register_id, z.z_number)) {
    z.totals.push_back({t[0].as<std::string>(), t[1].as<std::string>(), t[2].as<std::int64_t>(),
                        t[3].as<std::int64_t>(), t[4].as<std::int64_t>(), t[5].as<std::int64_t>()});
  }
  return z;
}

namespace {

// Columns a UTF-8 string takes (one per code point; labels have umlauts).
int columns(const std::string& s) {
  return static_cast<int>(std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string line(const std::string& left, const std::string& right, int width) {
  const int pad = std::max(1, width - columns(left) - columns(right));
  return left + std::string(static_cast<std::size_t>(pad), ' ') + right + "\n";
}

std::string when(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%d.%m.%Y %H:%M:%S", &tm);
  return buf;
}

}  // namespace

std::string render_z_report(const ZReport& z, const BusinessInfo& business, int width) {
  const std::string rule(static_cast<std::size_t>(width), '-');
  std::string out;
  if (!business.name.empty()) out += business.name + "\n";
  for (const auto& a : business.address) out += a + "\n";
  out += rule + "\n";
  out += fmt::format("Z-Bericht Nr. {}\n", z.z_number);
  out += line("Kasse", z.register_id, width);
  out += line("Sitzung", z.session_id, width);
  out += line("Bediener", z.cashier, width);
  out += line("Geöffnet", when(z.opened_at), width);
  out += line("Geschlossen", when(z.closed_at), width);
  out += line("Erster Beleg", z.first_sale_id.value_or("-"), width);
  out += line("Letzter Beleg", z.last_sale_id.value_or("-"), width);
  out += rule + "\nUmsatz nach Steuersatz (" + z.currency + ")\n";
  for (const auto& t : z.totals) {
    if (t.kind != "vat") continue;
    out += t.key + "\n";
    out += line("  Netto", format_minor(t.net_minor), width);
    out += line("  MwSt", format_minor(t.vat_minor), width);
    out += line("  Brutto", format_minor(t.gross_minor), width);
  }
  out += rule + "\nZahlungsarten\n";
  for (const auto& t : z.totals) {
    if (t.kind == "payment") out += line("  " + t.key, format_minor(t.gross_minor), width);
  }
  out += rule + "\nGeschäftsvorfälle\n";
  for (const auto& t : z.totals) {
    if (t.kind == "business_case") {
      out += line(fmt::format("  {} ({})", t.key, t.count), format_minor(t.gross_minor), width);
    }
  }
  out += rule + "\nKassenbestand\n";
  out += line("  Anfangsbestand", format_minor(z.opening_float_minor), width);
  out += line("  + Bar-Einnahmen", format_minor(z.cash_sales_minor), width);
  out += line("  - Rückgeld", format_minor(z.change_minor), width);
  out += line("  + Einlagen", format_minor(z.cash_in_minor), width);
  out += line("  - Entnahmen", format_minor(z.cash_out_minor), width);
  out += line("  - Bar-Erstattungen", format_minor(z.cash_refunds_minor), width);
  out += line("  Soll", format_minor(z.expected_cash_minor), width);
  out += line("  Ist (gezählt)", format_minor(z.counted_cash_minor), width);
  out += line("  Differenz", format_minor(z.difference_minor), width);
  out += rule + "\n";
  out += line("Training (nicht im Umsatz)", fmt::format("{} / {}", z.training_count,
                                                          format_minor(z.training_gross_minor)),
              width);
  if (z.flagged_count > 0) {
    out += fmt::format("Hinweis: {} Vorgänge mit Problemen (eck-pos problems)\n", z.flagged_count);
  }
  return out;
}

}  // namespace eck::pos
