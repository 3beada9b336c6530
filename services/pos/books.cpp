#include "books.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "eck/consumer.h"  // Rejected
#include "eck/sql_array.h"
#include "sale_checks.h"
#include "zreport.h"

namespace eck::pos {

namespace {

using google::protobuf::util::TimeUtil;

// RFC 3339 for PostgreSQL, or NULL for an unset timestamp.
std::optional<std::string> timestamp(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return std::nullopt;
  return TimeUtil::ToString(t);
}

// Ids must be storable as they are: a NUL byte cannot be.
void require(const std::string& value, const char* what) {
  if (value.empty()) throw Rejected(std::string("no ") + what);
  if (value.find('\0') != std::string::npos) throw Rejected(std::string(what) + " contains a NUL byte");
}

// PostgreSQL text cannot hold NUL bytes: they become '?', and the sale says so.
std::string text(const std::string& s, std::vector<std::string>& problems) {
  if (s.find('\0') == std::string::npos) return s;
  std::string out = s;
  std::replace(out.begin(), out.end(), '\0', '?');
  const std::string problem = "text with NUL bytes stored with '?' for them: " + out.substr(0, 40);
  if (std::find(problems.begin(), problems.end(), problem) == problems.end()) problems.push_back(problem);
  return out;
}

std::string currency_of(const v1::Money& m, const std::string& fallback) {
  return m.currency().empty() ? fallback : m.currency();
}

}  // namespace

// ---- registers and sessions ----------------------------------------------

Books::RegisterState& Books::register_seen(pqxx::work&, const std::string& id,
                                           const std::string& location, std::uint64_t seq) {
  auto& r = registers_[id];
  if (!location.empty()) r.location = location;
  dirty_registers_[id] = seq;
  return r;
}

std::optional<std::string> Books::session_for(pqxx::work& tx, const std::string& register_id,
                                              const std::string& named,
                                              std::vector<std::string>& problems) {
  auto& r = registers_[register_id];
  if (!r.session_known) {
    auto res = tx.exec_params(
        "SELECT session_id FROM drawer_session WHERE register_id = $1 AND closed_seq IS NULL",
        register_id);
    if (!res.empty()) r.open_session = res[0][0].as<std::string>();
    r.session_known = true;
  }
  if (!r.open_session) {
    problems.push_back("no open drawer session on register " + register_id);
  } else if (!named.empty() && named != *r.open_session) {
    problems.push_back(fmt::format("names session {} but the open session of register {} is {}",
                                   named, register_id, *r.open_session));
  }
  return r.open_session;
}

// ---- events ----------------------------------------------------------------

void Books::apply(const Event& ev, pqxx::work& tx) {
  switch (ev.envelope.payload_case()) {
    case v1::Envelope::kSaleCompleted: sale_completed(ev, tx); break;
    case v1::Envelope::kSaleVoided: sale_voided(ev, tx); break;
    case v1::Envelope::kCashDrawerOpened: drawer_opened(ev, tx); break;
    case v1::Envelope::kCashMovement: cash_movement(ev, tx); break;
    case v1::Envelope::kCashDrawerClosed: drawer_closed(ev, tx); break;
    case v1::Envelope::kSaleSigned: sale_signed(ev, tx); break;
    default: break;  // not ours
  }
}

void Books::sale_completed(const Event& ev, pqxx::work& tx) {
  const auto& s = ev.envelope.sale_completed();
  require(s.sale_id(), "sale_id");
  require(s.register_id(), "register_id");
  claims_.claim("sale", s.sale_id());
  register_seen(tx, s.register_id(), s.location(), ev.seq);

  SaleCheck check = check_sale(s);
  // Text that PostgreSQL cannot store is kept with '?' and flagged.
  const std::string location = text(s.location(), check.problems);
  const std::string cashier = text(s.cashier(), check.problems);
  const auto session = session_for(tx, s.register_id(), s.session_id(), check.problems);
  if (!check.problems.empty()) {
    spdlog::warn("sale {} recorded with {} problem(s): {}", s.sale_id(), check.problems.size(),
                 check.problems.front());
  }
  const auto& t = s.totals();
  const std::string currency = t.gross().currency();
  sales_.add(s.sale_id(), ev.seq, ev.envelope.event_id(), s.register_id(), location,
             cashier, session, currency, timestamp(s.started_at()), timestamp(s.finished_at()),
             s.training(), s.abandoned(), t.gross().minor(), t.net().minor(), t.vat().minor(),
             t.change().minor(), sql_array(check.problems));
  for (int i = 0; i < s.lines_size(); ++i) {
    const auto& l = s.lines(i);
    lines_.add(s.sale_id(), i + 1, l.line_no(), text(l.sku(), check.problems), text(l.barcode(), check.problems),
               text(l.name(), check.problems), l.quantity_milli(),
               l.unit_price().minor(), static_cast<int>(l.vat().category()), l.vat().rate_bp(),
               l.discount().minor(), l.line_total().minor());
  }
  for (int i = 0; i < s.payments_size(); ++i) {
    const auto& p = s.payments(i);
    payments_.add(s.sale_id(), i + 1, static_cast<int>(p.method()), p.amount().minor(),
                  currency_of(p.amount(), currency));
  }
  for (const auto& v : check.vat) {
    vat_.add(s.sale_id(), v.vat_category, v.vat_rate_bp, v.net_minor, v.vat_minor, v.gross_minor);
  }
}

namespace {

// Beyond this (a billion units) a void quantity is absurd: flagged, not
// voided, so sums of void quantities stay far from int64 limits.
constexpr std::int64_t kMaxVoidQuantityMilli = 1'000'000'000'000;

// What a void takes from one line of the original sale.
struct Taken {
  int line_no = 0;
  std::int64_t quantity_milli = 0;  // same sign as the line
  std::int64_t gross_minor = 0;
  int vat_category = 0;
  int vat_rate_bp = 0;
};

// The lines a void takes back, valued pro rata of their totals; what does
// not fit (unknown lines, more than remains) becomes a problem.
std::vector<Taken> voided_lines(pqxx::work& tx, const v1::SaleVoided& v,
                                std::vector<std::string>& problems) {
  auto lines = tx.exec_params(
      "SELECT l.line_no, l.quantity_milli, l.line_total_minor, l.vat_category, l.vat_rate_bp,"
      "       coalesce(sum(vl.quantity_milli), 0), coalesce(sum(vl.gross_minor), 0)"
      " FROM sale_line l"
      " LEFT JOIN sale_void sv ON sv.original_sale_id = l.sale_id"
      " LEFT JOIN sale_void_line vl ON vl.void_id = sv.void_id AND vl.line_no = l.line_no"
      " WHERE l.sale_id = $1 GROUP BY l.sale_id, l.idx ORDER BY l.idx",
      v.original_sale_id());
  if (!v.whole_sale()) {
    for (const auto& vl : v.lines()) {
      const bool exists = std::any_of(lines.begin(), lines.end(),
                                      [&](const pqxx::row& r) { return r[0].as<int>() == vl.line_no(); });
      if (!exists) problems.push_back(fmt::format("line {} is not in the sale", vl.line_no()));
      if (vl.quantity_milli() < 0 || vl.quantity_milli() > kMaxVoidQuantityMilli) {
        problems.push_back(fmt::format("line {}: void quantity {} is negative or absurd; not voided",
                                       vl.line_no(), vl.quantity_milli()));
      }
    }
  }
  std::vector<Taken> taken;
  std::set<int> seen;  // a repeated line number (flagged in the sale) is voided once
  for (const auto& r : lines) {
    const int line_no = r[0].as<int>();
    if (!seen.insert(line_no).second) continue;
    std::optional<std::int64_t> want;  // 0: all that remains
    if (v.whole_sale()) {
      want = 0;
    } else {
      for (const auto& vl : v.lines()) {
        if (vl.line_no() == line_no) want = vl.quantity_milli();
      }
    }
    if (!want || *want < 0 || *want > kMaxVoidQuantityMilli) continue;
    const auto sold = r[1].as<std::int64_t>(), total = r[2].as<std::int64_t>();
    const auto prev_q = r[5].as<std::int64_t>(), prev_gross = r[6].as<std::int64_t>();
    const std::int64_t remaining = sold - prev_q;
    const std::int64_t q = *want == 0 ? remaining : (sold < 0 ? -*want : *want);
    if (q == 0) {
      if (!v.whole_sale() && sold != 0) problems.push_back(fmt::format("line {} is already fully voided", line_no));
      continue;
    }
    if (std::llabs(prev_q + q) > std::llabs(sold)) {
      problems.push_back(fmt::format("line {}: voids {} but only {} remain", line_no, q, remaining));
    }
    // Cumulative pro rata, so a line voided in parts adds up to its total.
    const std::int64_t gross = pro_rata(total, prev_q + q, sold) - prev_gross;
    taken.push_back({line_no, q, gross, r[3].as<int>(), r[4].as<int>()});
  }
  if (v.whole_sale() && taken.empty()) problems.push_back("the sale is already fully voided");
  return taken;
}

}  // namespace

void Books::sale_voided(const Event& ev, pqxx::work& tx) {
  const auto& v = ev.envelope.sale_voided();
  require(v.void_id(), "void_id");
  require(v.register_id(), "register_id");
  register_seen(tx, v.register_id(), v.location(), ev.seq);
  flush(tx);  // the original sale may be in this transaction
  claims_.claim("void", v.void_id());

  std::vector<std::string> problems;
  const auto session = session_for(tx, v.register_id(), v.session_id(), problems);
  std::vector<Taken> taken;
  std::string currency;
  auto sale = tx.exec_params("SELECT currency FROM sale WHERE sale_id = $1", v.original_sale_id());
  if (sale.empty()) {
    problems.push_back("original sale '" + v.original_sale_id() + "' is unknown");
  } else {
    currency = sale[0][0].as<std::string>();
    taken = voided_lines(tx, v, problems);
  }
  std::int64_t voided_gross = 0;
  for (const auto& t : taken) voided_gross += t.gross_minor;
  std::int64_t refunded = 0;
  if (currency.empty() && v.refunds_size() > 0) currency = v.refunds(0).amount().currency();
  for (const auto& r : v.refunds()) refunded += r.amount().minor();
  if (!sale.empty() && refunded != voided_gross) {
    problems.push_back(fmt::format("refunds {} do not match the voided value {}", refunded, voided_gross));
  }
  claims_.write([&] {
    tx.exec_params0(
        "INSERT INTO sale_void (void_id, seq, event_id, original_sale_id, register_id, location,"
        " cashier, session_id, whole_sale, restock, reason, voided_at, currency, gross_minor, problems)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::text[])",
        v.void_id(), ev.seq, ev.envelope.event_id(), v.original_sale_id(), v.register_id(),
        v.location(), v.cashier(), session, v.whole_sale(), v.restock(), v.reason(),
        timestamp(v.voided_at()), currency, voided_gross, sql_array(problems));
  });
  for (const auto& t : taken) {
    tx.exec_params0(
        "INSERT INTO sale_void_line (void_id, line_no, quantity_milli, vat_category, vat_rate_bp,"
        " gross_minor) VALUES ($1, $2, $3, $4, $5, $6)",
        v.void_id(), t.line_no, t.quantity_milli, t.vat_category, t.vat_rate_bp, t.gross_minor);
  }
  for (int i = 0; i < v.refunds_size(); ++i) {
    const auto& r = v.refunds(i);
    tx.exec_params0(
        "INSERT INTO sale_void_refund (void_id, idx, method, amount_minor, currency)"
        " VALUES ($1, $2, $3, $4, $5)",
        v.void_id(), i + 1, static_cast<int>(r.method()), r.amount().minor(),
        currency_of(r.amount(), currency));
  }
  if (!problems.empty()) {
    spdlog::warn("void {} recorded with {} problem(s): {}", v.void_id(), problems.size(), problems.front());
  }
}

void Books::drawer_opened(const Event& ev, pqxx::work& tx) {
  const auto& o = ev.envelope.cash_drawer_opened();
  require(o.session_id(), "session_id");
  require(o.register_id(), "register_id");
  if (o.opening_float().currency().size() != 3) throw Rejected("opening float has no ISO currency");
  if (o.opening_float().minor() < 0) throw Rejected("negative opening float");
  register_seen(tx, o.register_id(), o.location(), ev.seq);
  flush(tx);  // the register row, and sales before the open
  std::vector<std::string> ignored;
  if (auto open = session_for(tx, o.register_id(), "", ignored)) {
    throw Rejected(fmt::format("register {} already has the open session {}", o.register_id(), *open));
  }
  if (!tx.exec_params("SELECT 1 FROM drawer_session WHERE session_id = $1", o.session_id()).empty()) {
    throw Rejected("duplicate: session '" + o.session_id() + "' was opened before");
  }
  tx.exec_params0(
      "INSERT INTO drawer_session (session_id, register_id, cashier, currency, opening_float_minor,"
      " opened_at, opened_seq) VALUES ($1, $2, $3, $4, $5, coalesce($6::timestamptz, now()), $7)",
      o.session_id(), o.register_id(), o.cashier(), o.opening_float().currency(),
      o.opening_float().minor(), timestamp(o.opened_at()), ev.seq);
  registers_[o.register_id()].open_session = o.session_id();
}

void Books::cash_movement(const Event& ev, pqxx::work& tx) {
  const auto& m = ev.envelope.cash_movement();
  require(m.movement_id(), "movement_id");
  require(m.register_id(), "register_id");
  if (m.direction() != v1::CASH_DIRECTION_IN && m.direction() != v1::CASH_DIRECTION_OUT) {
    throw Rejected("cash movement has no direction");
  }
  if (m.amount().minor() <= 0) throw Rejected("cash movement amount must be positive");
  register_seen(tx, m.register_id(), "", ev.seq);
  flush(tx);
  claims_.claim("cash movement", m.movement_id());
  std::vector<std::string> problems;
  const auto session = session_for(tx, m.register_id(), m.session_id(), problems);
  claims_.write([&] { tx.exec_params0(
      "INSERT INTO cash_movement (movement_id, seq, session_id, register_id, direction,"
      " amount_minor, currency, reason, at, problems)"
      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[])",
      m.movement_id(), ev.seq, session, m.register_id(),
      m.direction() == v1::CASH_DIRECTION_IN ? "in" : "out", m.amount().minor(),
      m.amount().currency(), m.reason(), timestamp(m.at()), sql_array(problems)); });
}

void Books::drawer_closed(const Event& ev, pqxx::work& tx) {
  const auto& c = ev.envelope.cash_drawer_closed();
  require(c.session_id(), "session_id");
  flush(tx);  // everything of the session must be in the books before the Z-report
  auto res = tx.exec_params(
      "SELECT register_id, closed_seq IS NOT NULL, coalesce(z_number, 0) FROM drawer_session"
      " WHERE session_id = $1",
      c.session_id());
  if (res.empty()) throw Rejected("close of unknown session '" + c.session_id() + "'");
  const auto register_id = res[0][0].as<std::string>();
  if (res[0][1].as<bool>()) {
    throw Rejected(fmt::format("session '{}' is already closed (Z {})", c.session_id(),
                               res[0][2].as<std::int64_t>()));
  }
  if (!c.register_id().empty() && c.register_id() != register_id) {
    throw Rejected(fmt::format("session '{}' belongs to register {}, not {}", c.session_id(),
                               register_id, c.register_id()));
  }
  const auto closed_at = c.closed_at().seconds() ? c.closed_at().seconds() : std::time(nullptr);
  tx.exec_params0(
      "UPDATE drawer_session SET closed_at = to_timestamp($2), closed_seq = $3, closed_by = $4,"
      " counted_minor = $5 WHERE session_id = $1",
      c.session_id(), static_cast<std::int64_t>(closed_at), ev.seq, c.cashier(),
      c.counted().minor());
  ZReport z = compute_z_report(tx, c.session_id());
  const auto number = store_z_report(tx, z, ev.seq);
  registers_[register_id].open_session.reset();
  registers_[register_id].session_known = true;
  spdlog::info("register {}: session {} closed, Z {} (expected cash {}, counted {}, difference {})",
               register_id, c.session_id(), number, z.expected_cash_minor, z.counted_cash_minor,
               z.difference_minor);
}

void Books::sale_signed(const Event& ev, pqxx::work&) {
  const auto& s = ev.envelope.sale_signed();
  require(s.sale_id(), "sale_id");
  claims_.claim(s.void_id().empty() ? "signature of sale" : "signature of void",
                s.sale_id() + (s.void_id().empty() ? "" : "/" + s.void_id()));
  signatures_.add(s.sale_id(), s.void_id(), ev.seq, static_cast<std::int64_t>(s.transaction_number()),
                  static_cast<std::int64_t>(s.signature_counter()), s.signature(), s.tse_serial(),
                  s.signature_algorithm(), s.qr_code(), timestamp(s.started_at()),
                  timestamp(s.finished_at()), s.certified(), s.error());
}

// ---- transaction boundaries ---------------------------------------------

void Books::flush(pqxx::work& tx) {
  if (!dirty_registers_.empty()) {
    std::vector<std::string> ids, locations;
    std::vector<std::uint64_t> seqs;
    for (const auto& [id, seq] : dirty_registers_) {
      ids.push_back(id);
      locations.push_back(registers_[id].location);
      seqs.push_back(seq);
    }
    tx.exec_params0(
        "INSERT INTO register (register_id, location, first_seq, last_seq)"
        " SELECT r, l, s, s FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(r, l, s)"
        " ON CONFLICT (register_id) DO UPDATE SET last_seq = EXCLUDED.last_seq,"
        " location = CASE WHEN EXCLUDED.location = '' THEN register.location ELSE EXCLUDED.location END",
        sql_array(ids), sql_array(locations), sql_array(seqs));
    dirty_registers_.clear();
  }
  claims_.write([&] {
    sales_.flush(tx);
    signatures_.flush(tx);
  });
  lines_.flush(tx);
  payments_.flush(tx);
  vat_.flush(tx);
}

void Books::discard() {
  registers_.clear();
  dirty_registers_.clear();
  claims_.reset();
  sales_.clear();
  lines_.clear();
  payments_.clear();
  vat_.clear();
  signatures_.clear();
}

}  // namespace eck::pos
