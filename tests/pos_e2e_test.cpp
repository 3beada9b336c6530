// eck-pos end to end: the real broker and the real pos daemon on a test
// database.
//
// TillDayReconciles: one register's day. A float, 500 sales (19 %, 7 % and
// 0 % lines, discounts, cash / card / split payments with change, some
// training sales), voids of whole sales and of (parts of) lines with
// refunds equal to what they take back, cash in and out, then the close
// with a known difference. Along the way ~2 % of the events are published
// again with the same event_id (a producer retrying: the broker's dedupe),
// a few sales again under a new event_id (a till resending: eck-pos must
// dead-letter them as duplicates), and the daemon is SIGKILLed mid-day and
// started again. Afterwards the stored Z-report must equal, to the cent, a
// small model written from the contract alone (services/pos/zreport.h,
// books.h, sale_checks.h); it shares no code with the daemon. A second
// session then closes as Z 2.
//
// ReceiptAndExportFromTheDaemon: `eck-pos receipt` before and after the
// sale is signed (fiscal.SaleSigned), as ESC/POS, and `eck-pos export`.
//
// VoidedSalesCancelTheirVat: the smallest day on which rounding the VAT of
// a session's voids once (instead of void by void, like a sale's) shows.
//
// ECK_E2E_SEED=<n> replays another day; the seed is printed either way.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "eck/events.h"
#include "eck/publisher.h"
#include "eck/v1/envelope.pb.h"
#include "support/broker_process.h"
#include "support/contains.h"
#include "support/e2e.h"
#include "support/pos_events.h"
#include "support/pos_process.h"
#include "support/test_pg.h"

namespace eck {
namespace {

using namespace std::chrono_literals;
using namespace test::pos;
using test::Contains;

constexpr const char* kSource = "pos-e2e";
constexpr const char* kRegister = "KASSE-01";

// "12,34", "-1,23": how eck-pos prints money (receipt.h).
std::string euro(std::int64_t minor) {
  const std::int64_t abs = minor < 0 ? -minor : minor;
  const std::string cents = std::to_string(abs % 100);
  return (minor < 0 ? "-" : "") + std::to_string(abs / 100) + "," + (cents.size() < 2 ? "0" : "") + cents;
}

// --- the model ---------------------------------------------------------------------

// A VAT rate as lines carry it.
struct Vat {
  v1::VatCategory category = v1::VAT_CATEGORY_UNSPECIFIED;
  int rate_bp = 0;
  auto operator<=>(const Vat&) const = default;
};
constexpr Vat kStandard{v1::VAT_CATEGORY_STANDARD, 1900};

Vat vat_of(const v1::SaleLine& l) { return {l.vat().category(), l.vat().rate_bp()}; }

// The VAT contained in a gross amount (sale_checks.h).
std::int64_t vat_in(std::int64_t gross, int rate_bp) { return round_div(gross * rate_bp, 10000 + rate_bp); }

struct Amounts {
  std::int64_t net = 0, vat = 0, gross = 0;
  auto operator<=>(const Amounts&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Amounts& a) {
  return os << "net " << a.net << " VAT " << a.vat << " gross " << a.gross;
}

Amounts of_gross(std::int64_t gross, int rate_bp) {
  const std::int64_t vat = vat_in(gross, rate_bp);
  return {gross - vat, vat, gross};
}

// The Z-report's keys (zreport.h): "STANDARD 19.00 %", "CASH".
std::string vat_key(const Vat& v) {
  std::string name = v1::VatCategory_Name(v.category).substr(std::string("VAT_CATEGORY_").size());
  const std::string hundredths = std::to_string(v.rate_bp % 100);
  return name + " " + std::to_string(v.rate_bp / 100) + "." + (hundredths.size() < 2 ? "0" : "") + hundredths +
         " %";
}

std::string method_key(v1::PaymentMethod m) {
  return v1::PaymentMethod_Name(m).substr(std::string("PAYMENT_METHOD_").size());
}

// What the Z-report of one drawer session must say (zreport.h): training
// sales apart; voids negative; per rate, each document's VAT computed like
// a sale's (a void's from the value it takes back at that rate); per payment
// method what was taken (cash: tendered - change) minus what voids refunded.
struct SessionModel {
  std::string session_id;
  std::int64_t opening_float = 0, counted = 0;
  std::int64_t sales_count = 0, sales_gross = 0, voids_count = 0, voids_gross = 0;
  std::int64_t cash_in = 0, cash_out = 0, cash_in_count = 0, cash_out_count = 0;
  std::int64_t cash_tendered = 0, change = 0, cash_refunds = 0;
  std::int64_t training_count = 0, training_gross = 0;
  std::map<Vat, Amounts> vat;
  std::map<Vat, Amounts> voided_by_rate;  // the voids' share, to explain a VAT difference
  std::map<v1::PaymentMethod, std::int64_t> payments;
  std::vector<std::string> counted_sales;  // in publish order

  std::int64_t expected_cash() const {
    return opening_float + cash_tendered - change + cash_in - cash_out - cash_refunds;
  }

  void sale(const v1::SaleCompleted& s) {
    const std::int64_t gross = s.totals().gross().minor();
    if (s.training()) {
      ++training_count;
      training_gross += gross;
      return;
    }
    ++sales_count;
    sales_gross += gross;
    counted_sales.push_back(s.sale_id());
    std::map<Vat, std::int64_t> by_rate;
    for (const auto& l : s.lines()) by_rate[vat_of(l)] += l.line_total().minor();
    for (const auto& [rate, g] : by_rate) add(vat[rate], of_gross(g, rate.rate_bp), +1);
    for (const auto& p : s.payments()) {
      payments[p.method()] += p.amount().minor();
      if (p.method() == v1::PAYMENT_METHOD_CASH) cash_tendered += p.amount().minor();
    }
    change += s.totals().change().minor();
    payments[v1::PAYMENT_METHOD_CASH] -= s.totals().change().minor();
  }

  void voided(const std::map<Vat, std::int64_t>& by_rate, const std::vector<Tender>& refunds) {
    ++voids_count;
    for (const auto& [rate, g] : by_rate) {
      voids_gross += g;
      add(voided_by_rate[rate], of_gross(g, rate.rate_bp), +1);
      add(vat[rate], of_gross(g, rate.rate_bp), -1);
    }
    for (const auto& r : refunds) {
      payments[r.method] -= r.amount;
      if (r.method == v1::PAYMENT_METHOD_CASH) cash_refunds += r.amount;
    }
  }

  void cash(v1::CashDirection direction, std::int64_t amount) {
    if (direction == v1::CASH_DIRECTION_IN) {
      ++cash_in_count;
      cash_in += amount;
    } else {
      ++cash_out_count;
      cash_out += amount;
    }
  }

  // The z_report columns this model knows, by name.
  std::map<std::string, std::int64_t> columns() const {
    return {{"sales_count", sales_count},
            {"sales_gross_minor", sales_gross},
            {"voids_count", voids_count},
            {"voids_gross_minor", voids_gross},
            {"cash_in_minor", cash_in},
            {"cash_out_minor", cash_out},
            {"opening_float_minor", opening_float},
            {"cash_sales_minor", cash_tendered},
            {"change_minor", change},
            {"cash_refunds_minor", cash_refunds},
            {"expected_cash_minor", expected_cash()},
            {"counted_cash_minor", counted},
            {"difference_minor", counted - expected_cash()},
            {"training_count", training_count},
            {"training_gross_minor", training_gross},
            {"flagged_count", 0}};
  }

 private:
  static void add(Amounts& to, const Amounts& a, int sign) {
    to.net += sign * a.net;
    to.vat += sign * a.vat;
    to.gross += sign * a.gross;
  }
};

// --- the till ----------------------------------------------------------------------

struct Product {
  std::string name;
  std::int64_t price = 0;
  int rate_bp = 0;
  bool by_weight = false;  // price per kg, any number of grams
};

// One line as sold, and how much of it voids took back so far.
struct SoldLine {
  Vat vat;
  bool by_weight = false;
  std::int64_t quantity = 0, total = 0;
  std::int64_t voided_quantity = 0, voided_gross = 0;
  std::int64_t remaining() const { return quantity - voided_quantity; }
};

struct Sold {
  v1::Envelope env;  // as published first
  std::vector<SoldLine> lines;
  std::vector<std::string> event_ids;  // the sale's and its voids', in order
  std::optional<v1::PaymentMethod> card;
  bool anything_left() const {
    return std::any_of(lines.begin(), lines.end(), [](const SoldLine& l) { return l.remaining() > 0; });
  }
};

// Makes a register's events, arithmetically consistent, and books each into
// the model of the session it belongs to. Envelopes come completed (event_id
// set) so the test can follow them.
class Till {
 public:
  Till(std::uint64_t seed, std::string register_id) : rng_(seed), register_(std::move(register_id)) {
    const std::vector<std::pair<std::string, int>> kinds = {
        {"Kaffee", 1900}, {"Brötchen", 700}, {"Käse", 700},      {"Spülmittel", 1900}, {"Äpfel", 700},
        {"Zeitung", 700}, {"Batterien", 1900}, {"Briefmarke", 0}, {"Gutschein", 0},     {"Wein", 1900}};
    for (int i = 0; i < 30; ++i) {
      const auto& [name, rate] = kinds[static_cast<std::size_t>(i) % kinds.size()];
      products_.push_back({name + " " + std::to_string(i), pick(19, 2999), rate, name == "Äpfel" || name == "Käse"});
    }
  }

  bool chance(int percent) { return pick(0, 99) < percent; }
  std::int64_t pick(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

  SessionModel& model() { return sessions_.back(); }
  const std::vector<SessionModel>& sessions() const { return sessions_; }
  const std::map<std::string, Sold>& sold() const { return sold_; }
  bool voidable() const { return !voidable_.empty(); }

  v1::Envelope open(const std::string& session_id, std::int64_t opening_float) {
    sessions_.push_back({});
    model().session_id = session_id;
    model().opening_float = opening_float;
    return finish(drawer_opened(session_id, register_, opening_float));
  }

  v1::Envelope close(std::int64_t difference) {
    model().counted = model().expected_cash() + difference;
    return finish(drawer_closed(model().session_id, register_, model().counted));
  }

  v1::Envelope sale(bool training) {
    const std::string id = "BON-" + std::to_string(++sales_);
    SaleBuilder b(id);
    b.on(register_).session(model().session_id).at(std::time(nullptr));
    std::vector<bool> by_weight;
    const int lines = static_cast<int>(pick(1, 5));
    for (int i = 0; i < lines; ++i) {
      const Product& p = products_[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(products_.size()) - 1))];
      const std::int64_t quantity = p.by_weight ? pick(150, 2500) : pick(1, 4) * kUnit;
      const std::int64_t before = round_div(quantity * p.price, kUnit);
      std::int64_t discount = 0;
      if (before > 1 && chance(15))  // 5 to 30 %, or a fixed amount; never the whole line
        discount = chance(50) ? std::max<std::int64_t>(1, before * pick(5, 30) / 100)
                              : pick(1, std::min<std::int64_t>(before - 1, 200));
      b.line(p.name, quantity, p.price, p.rate_bp, discount);
      by_weight.push_back(p.by_weight);
    }
    const std::int64_t gross = b.build().totals().gross().minor();
    std::optional<v1::PaymentMethod> card;
    const int how = static_cast<int>(pick(0, 99));
    if (how < 45 || gross < 2) {
      b.pay(v1::PAYMENT_METHOD_CASH, cash_tendered(gross));
    } else if (how < 80) {
      card = chance(70) ? v1::PAYMENT_METHOD_DEBIT_CARD : v1::PAYMENT_METHOD_CREDIT_CARD;
      b.pay(*card, gross);
    } else {  // split: part by card, the rest in cash with change
      card = v1::PAYMENT_METHOD_DEBIT_CARD;
      const std::int64_t by_card = pick(1, gross - 1);
      b.pay(*card, by_card).pay(v1::PAYMENT_METHOD_CASH, cash_tendered(gross - by_card));
    }
    if (training) b.training();
    v1::Envelope env = finish(sale_event(b.build()));
    model().sale(env.sale_completed());

    Sold rec{env, {}, {env.event_id()}, card};
    for (int k = 0; k < env.sale_completed().lines_size(); ++k) {
      const auto& l = env.sale_completed().lines(k);
      rec.lines.push_back({vat_of(l), by_weight[static_cast<std::size_t>(k)], l.quantity_milli(), l.line_total().minor()});
    }
    sold_[id] = std::move(rec);
    if (!training) voidable_.push_back(id);
    return env;
  }

  // A void of a recent sale (or of the oldest) with something left: the
  // whole sale, or some of its lines (all of a line, or a part). Refunds
  // equal the value taken back. `must_follow`: the event_ids that must be
  // journaled before it.
  v1::Envelope void_of_a_sale(std::vector<std::string>& must_follow, bool oldest = false) {
    const std::size_t n = voidable_.size();
    const std::size_t i =
        oldest ? 0 : n - 1 - static_cast<std::size_t>(pick(0, std::min<std::int64_t>(static_cast<std::int64_t>(n), 30) - 1));
    const std::string sale_id = voidable_[i];
    Sold& s = sold_.at(sale_id);
    must_follow = s.event_ids;

    std::map<Vat, std::int64_t> by_rate;
    std::vector<Taken> taken;
    // Cumulative pro rata: what is voided of a line so far is worth
    // round(total x voided / sold), so the parts add up to the line total.
    auto take = [&](std::size_t idx, std::int64_t q) {
      SoldLine& l = s.lines[idx];
      const std::int64_t after = round_div(l.total * (l.voided_quantity + q), l.quantity);
      by_rate[l.vat] += after - l.voided_gross;
      l.voided_quantity += q;
      l.voided_gross = after;
    };
    const bool whole = chance(40);
    if (whole) {
      for (std::size_t k = 0; k < s.lines.size(); ++k)
        if (s.lines[k].remaining() > 0) take(k, s.lines[k].remaining());
    } else {
      std::vector<std::size_t> left;
      for (std::size_t k = 0; k < s.lines.size(); ++k)
        if (s.lines[k].remaining() > 0) left.push_back(k);
      std::shuffle(left.begin(), left.end(), rng_);
      left.resize(static_cast<std::size_t>(pick(1, static_cast<std::int64_t>(left.size()))));
      std::sort(left.begin(), left.end());
      for (std::size_t k : left) {
        const SoldLine& l = s.lines[k];
        const std::int64_t rest = l.remaining();
        const int r = static_cast<int>(pick(0, 99));
        std::int64_t q = rest;
        if (r < 40 && l.by_weight && rest > 100) q = pick(50, rest - 1);
        else if (r < 40 && !l.by_weight && rest > kUnit) q = pick(1, rest / kUnit - 1) * kUnit;
        // 0 asks for all that remains (about a third of the complete ones).
        taken.push_back({static_cast<int>(k) + 1, q == rest && chance(35) ? 0 : q});
        take(k, q);
      }
    }
    std::int64_t value = 0;
    for (const auto& [rate, g] : by_rate) value += g;
    std::vector<Tender> refunds;
    const int how = static_cast<int>(pick(0, 99));
    if (value <= 0) {
      // nothing to pay back
    } else if (how < 65 || !s.card) {
      refunds.push_back({v1::PAYMENT_METHOD_CASH, value});
    } else if (how < 90 || value < 2) {
      refunds.push_back({*s.card, value});
    } else {
      const std::int64_t cash = pick(1, value - 1);
      refunds.push_back({v1::PAYMENT_METHOD_CASH, cash});
      refunds.push_back({*s.card, value - cash});
    }
    const std::string id = "STORNO-" + std::to_string(++voids_);
    v1::Envelope env = whole ? void_whole(id, sale_id, register_, model().session_id, refunds)
                             : void_lines(id, sale_id, register_, model().session_id, taken, refunds);
    env = finish(std::move(env));
    model().voided(by_rate, refunds);
    s.event_ids.push_back(env.event_id());
    if (!s.anything_left()) voidable_.erase(voidable_.begin() + static_cast<std::ptrdiff_t>(i));
    return env;
  }

  v1::Envelope cash(v1::CashDirection direction, std::int64_t amount) {
    model().cash(direction, amount);
    return finish(cash_movement("BEWEGUNG-" + std::to_string(++movements_), model().session_id, register_,
                                direction, amount));
  }

 private:
  // Cash handed over for `due`: mostly the next 5, 10, 20 or 50 euros,
  // sometimes exact.
  std::int64_t cash_tendered(std::int64_t due) {
    if (chance(20)) return due;
    const std::int64_t note = std::vector<std::int64_t>{500, 1000, 2000, 5000}[static_cast<std::size_t>(pick(0, 3))];
    return (due / note + 1) * note;
  }

  v1::Envelope finish(v1::Envelope env) {
    complete_envelope(env, kSource);
    return env;
  }

  std::mt19937_64 rng_;
  std::string register_;
  std::vector<Product> products_;
  std::vector<SessionModel> sessions_;
  std::map<std::string, Sold> sold_;
  std::vector<std::string> voidable_;
  int sales_ = 0, voids_ = 0, movements_ = 0;
};

// --- reading back ------------------------------------------------------------------

std::uint64_t seed_from_env(std::uint64_t fallback) {
  if (const char* s = std::getenv("ECK_E2E_SEED"); s != nullptr && *s != '\0') return std::stoull(s);
  return fallback;
}

// A test database with the broker and eck-pos on it, and a publisher into
// the broker (window 1: journaled in publish order, whatever happens).
struct ProvisionedDatabase : test::TestDatabase {
  ProvisionedDatabase() { provision(); }
};

PublisherOptions publisher_options(const std::string& endpoint, std::size_t window) {
  PublisherOptions o;
  o.endpoint = endpoint;
  o.window = window;
  o.ack_timeout = 10s;  // a retry could reorder: only on real trouble
  o.source = kSource;
  return o;
}

struct PosStack {
  explicit PosStack(test::PosOptions opts = {}, std::size_t window = 1)
      : pos(db.url_as("eck_pos"), broker.bus(), std::move(opts)), pub(publisher_options(broker.ingest(), window)) {
    broker.start();
    pos.start();
  }
  // Publishes and waits for the ack (throws PublishError on a NACK).
  void send(v1::Envelope env) { pub.publish(std::move(env)).get(); }

  ProvisionedDatabase db;
  test::BrokerProcess broker{db.url_as("eck_broker")};
  test::PosProcess pos;
  pqxx::connection su{db.url()};
  Publisher pub;
};

// Waits (bounded) until eck-pos has considered the whole journal.
::testing::AssertionResult caught_up(pqxx::connection& su, test::PosProcess& pos) {
  if (test::wait_until([&] { return test::consumer_progress(su, "pos", "pos").done(); }, 120s, 50ms))
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "eck-pos did not catch up within 120 s: "
                                       << test::consumer_progress(su, "pos", "pos") << "; log tail:\n"
                                       << test::log_tail(pos.log());
}

// Compares a stored Z-report with the model of its session.
void expect_z_report(pqxx::connection& su, int z_number, const SessionModel& m, const std::string& first_sale,
                     const std::string& last_sale) {
  SCOPED_TRACE("Z " + std::to_string(z_number) + " (session " + m.session_id + ")");
  pqxx::nontransaction tx(su);
  const auto want = m.columns();
  std::string select = "SELECT ";
  for (const auto& [column, value] : want) select += column + ", ";
  auto rows = tx.exec_params(select + "session_id, currency, coalesce(first_sale_id, ''), coalesce(last_sale_id, '')"
                                     " FROM pos.z_report WHERE register_id = $1 AND z_number = $2",
                             kRegister, z_number);
  ASSERT_EQ(rows.size(), 1u) << "no Z-report " << z_number << " of " << kRegister;
  int col = 0;
  for (const auto& [column, value] : want) EXPECT_EQ(rows[0][col++].as<std::int64_t>(), value) << column;
  EXPECT_EQ(rows[0][col++].as<std::string>(), m.session_id);
  EXPECT_EQ(rows[0][col++].as<std::string>(), kCurrency);
  EXPECT_EQ(rows[0][col++].as<std::string>(), first_sale) << "first_sale_id";
  EXPECT_EQ(rows[0][col++].as<std::string>(), last_sale) << "last_sale_id";

  std::map<std::string, Amounts> vat;
  std::map<std::string, std::int64_t> payments;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> cases;  // count, amount
  for (const auto& r : tx.exec_params(
           "SELECT kind, key, count, net_minor, vat_minor, gross_minor FROM pos.z_report_total"
           " WHERE register_id = $1 AND z_number = $2",
           kRegister, z_number)) {
    const auto kind = r[0].as<std::string>(), key = r[1].as<std::string>();
    if (kind == "vat") vat[key] = {r[3].as<std::int64_t>(), r[4].as<std::int64_t>(), r[5].as<std::int64_t>()};
    else if (kind == "payment") payments[key] = r[5].as<std::int64_t>();
    else cases[key] = {r[2].as<std::int64_t>(), r[5].as<std::int64_t>()};
  }

  std::map<std::string, Amounts> want_vat;
  for (const auto& [rate, a] : m.vat) want_vat[vat_key(rate)] = a;
  if (vat != want_vat) {
    for (const auto& [rate, a] : m.vat) {
      const std::string key = vat_key(rate);
      const Amounts got = vat.contains(key) ? vat.at(key) : Amounts{};
      if (got == a) continue;
      // What it would be with the VAT of all the session's voids at this
      // rate rounded once, instead of void by void like a sale's.
      const auto voided = m.voided_by_rate.contains(rate) ? m.voided_by_rate.at(rate) : Amounts{};
      const std::int64_t lumped_vat = a.vat + voided.vat - vat_in(voided.gross, rate.rate_bp);
      ADD_FAILURE() << "VAT totals at " << key << "\n  model:  " << a << "\n  stored: " << got
                    << "\n  (voids took back " << voided << " at this rate; with their VAT rounded once"
                    << " for the session the VAT would be " << lumped_vat << ")";
    }
    for (const auto& [key, a] : vat)
      if (!want_vat.contains(key)) ADD_FAILURE() << "VAT totals at " << key << " not in the model: " << a;
  }

  std::map<std::string, std::int64_t> want_payments;
  for (const auto& [method, amount] : m.payments) want_payments[method_key(method)] = amount;
  EXPECT_EQ(payments, want_payments) << "per payment method";

  // Business cases: count and amount; voids (and cash out) are negative.
  EXPECT_EQ(cases["sales"], std::make_pair(m.sales_count, m.sales_gross));
  EXPECT_EQ(cases["voids"], std::make_pair(m.voids_count, -m.voids_gross));
  EXPECT_EQ(cases["cash_in"], std::make_pair(m.cash_in_count, m.cash_in));
  EXPECT_EQ(cases["cash_out"].first, m.cash_out_count);
  EXPECT_EQ(std::abs(cases["cash_out"].second), m.cash_out);
  EXPECT_EQ(cases.size(), 4u);
}

// Z-report z of the register with its totals, as text (to see it unchanged).
std::string stored_z_text(pqxx::connection& su, int z_number) {
  pqxx::nontransaction tx(su);
  return tx.exec_params1("SELECT (SELECT z::text FROM pos.z_report z WHERE register_id = $1 AND z_number = $2)"
                         " || (SELECT string_agg(t::text, ',' ORDER BY kind, key) FROM pos.z_report_total t"
                         "     WHERE register_id = $1 AND z_number = $2)",
                         kRegister, z_number)[0]
      .as<std::string>("");
}

// --- the tests ---------------------------------------------------------------------

TEST(PosE2E, TillDayReconciles) {
  const std::uint64_t seed = seed_from_env(20240612);
  std::cout << "pos e2e seed " << seed << " (ECK_E2E_SEED=" << seed << " to replay)\n";
  RecordProperty("seed", std::to_string(seed));
  const auto started = std::chrono::steady_clock::now();

  test::PosOptions po;
  po.extra_yaml = "  max_batch: 64\n";  // more transactions: the kill lands between some of them
  PosStack stack(po, 200);
  auto& pos = stack.pos;
  auto& su = stack.su;
  auto& pub = stack.pub;
  test::PublishAcks acks;
  Till till(seed, kRegister);
  std::vector<v1::Envelope> published;         // distinct events, in publish order
  std::set<std::string> resent_sales;          // event_ids of sales sent again under a new id
  int republished = 0;
  auto publish = [&](const v1::Envelope& env) {
    published.push_back(env);
    pub.publish(env, acks.callback());
  };
  auto all_acked = [&](const std::vector<std::string>& ids) {
    return test::wait_until([&] { return std::all_of(ids.begin(), ids.end(), [&](const auto& id) { return acks.acked(id); }); },
                            60s);
  };

  publish(till.open("SCHICHT-1", 15000));
  ASSERT_TRUE(pub.flush(60s));  // the drawer is open before the first sale

  constexpr int kSales = 500;
  const std::set<int> resend_at = {60, 140, 230, 330, 450};
  constexpr int kKillAt = 250, kRestartAt = 320;
  std::vector<std::string> must_follow;
  for (int i = 1; i <= kSales; ++i) {
    if (till.voidable() && till.chance(9)) {
      v1::Envelope v = till.void_of_a_sale(must_follow);
      ASSERT_TRUE(all_acked(must_follow)) << "the sale of " << v.sale_voided().void_id() << " was not acked";
      publish(v);
    }
    if (till.chance(3))
      publish(till.chance(40) ? till.cash(v1::CASH_DIRECTION_IN, till.pick(10, 50) * 100)
                              : till.cash(v1::CASH_DIRECTION_OUT, till.pick(20, 100) * 100));
    publish(till.sale(till.chance(3)));
    if (till.chance(2)) {  // a producer retrying: the same event_id again
      pub.publish(published[static_cast<std::size_t>(till.pick(0, static_cast<std::int64_t>(published.size()) - 1))],
                  acks.callback());
      ++republished;
    }
    if (resend_at.contains(i)) {  // a till resending a sale: same sale_id, new event_id
      const auto& [id, sold] = *std::next(till.sold().begin(), till.pick(0, static_cast<std::int64_t>(till.sold().size()) - 1));
      ASSERT_TRUE(all_acked({sold.env.event_id()})) << id;  // journaled after the original
      v1::Envelope again = sold.env;
      again.clear_event_id();
      complete_envelope(again, kSource);
      resent_sales.insert(again.event_id());
      pub.publish(again, acks.callback());
    }
    if (i == kKillAt) {
      ASSERT_TRUE(pub.flush(60s));
      const std::int64_t target = test::consumer_progress(su, "pos", "pos").head * till.pick(40, 90) / 100;
      ASSERT_TRUE(test::wait_until([&] { return test::consumer_progress(su, "pos", "pos").position >= target; }, 60s, 5ms))
          << "eck-pos makes no progress: " << test::consumer_progress(su, "pos", "pos");
      pos.kill(SIGKILL);
      std::cout << "SIGKILL after " << i << " sales: " << test::consumer_progress(su, "pos", "pos") << "\n";
    }
    if (i == kRestartAt) pos.start();  // sales kept coming while it was down
  }
  ASSERT_TRUE(pub.flush(60s)) << "publisher did not drain";
  const std::int64_t kDifference = -123;
  publish(till.close(kDifference));
  ASSERT_TRUE(pub.flush(60s));
  const SessionModel day = till.model();
  {
    auto errors = acks.errors();
    ASSERT_TRUE(errors.empty()) << errors.size() << " NACKs, first: " << errors.front();
  }
  std::cout << "published " << published.size() << " events (" << republished << " again with the same event_id, "
            << resent_sales.size() << " sales under a new one) in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms\n";
  ASSERT_TRUE(caught_up(su, pos));
  {
    pqxx::nontransaction tx(su);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM broker.journal")[0].as<std::size_t>(),
              published.size() + resent_sales.size())
        << "the broker journaled each event_id once";
  }

  // Journal order decides the first and last sale of the Z-report.
  auto first_last = [&](const SessionModel& m) {
    std::vector<std::pair<std::uint64_t, std::string>> seqs;
    for (const auto& id : m.counted_sales) seqs.emplace_back(acks.seq(till.sold().at(id).env.event_id()), id);
    std::sort(seqs.begin(), seqs.end());
    return seqs.empty() ? std::make_pair(std::string(), std::string()) : std::make_pair(seqs.front().second, seqs.back().second);
  };
  {
    const SessionModel& m = till.sessions().front();
    EXPECT_EQ(m.counted - m.expected_cash(), kDifference);
    const auto [first, last] = first_last(m);
    expect_z_report(su, 1, m, first, last);
    std::cout << "Z 1: " << m.sales_count << " sales (" << m.training_count << " training), " << m.voids_count
              << " voids, " << m.cash_in_count + m.cash_out_count << " cash movements, expected cash "
              << m.expected_cash() << "\n";
  }
  const std::string z1 = stored_z_text(su, 1);

  // Every sale once, in its session, consistent; every void and movement.
  {
    pqxx::nontransaction tx(su);
    std::set<std::string> ids;
    for (const auto& r : tx.exec("SELECT sale_id FROM pos.sale")) ids.insert(r[0].as<std::string>());
    std::set<std::string> want;
    for (const auto& [id, s] : till.sold()) want.insert(id);
    EXPECT_EQ(ids, want) << "pos.sale holds every sale";
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM pos.sale")[0].as<std::size_t>(), want.size()) << "each once";
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM pos.sale WHERE session_id IS DISTINCT FROM 'SCHICHT-1'")[0].as<int>(), 0);
    for (const char* table : {"sale", "sale_void", "cash_movement"}) {
      auto flagged = tx.exec(std::string("SELECT * FROM pos.") + table + " WHERE problems <> '{}' LIMIT 5");
      for (const auto& r : flagged)
        ADD_FAILURE() << "flagged in pos." << table << ": " << r[0].as<std::string>() << " "
                      << r[r.size() - 1].as<std::string>();
    }
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM pos.sale_void")[0].as<std::int64_t>(), day.voids_count);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM pos.cash_movement")[0].as<std::int64_t>(),
              day.cash_in_count + day.cash_out_count);

    // Dead letters: exactly the sales sent again under a new event_id.
    std::set<std::string> dead;
    for (const auto& r : tx.exec("SELECT event_id, topic, reason FROM pos.dead_letter")) {
      dead.insert(r[0].as<std::string>());
      EXPECT_EQ(r[1].as<std::string>(), "pos.SaleCompleted");
      EXPECT_PRED_FORMAT2(Contains, r[2].as<std::string>(), "duplicate");
    }
    EXPECT_EQ(dead, resent_sales);
  }
  {
    auto r = pos.run_command({"zreport", "--register", kRegister});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_PRED_FORMAT2(Contains, r.out, "Z-Bericht Nr. 1");
    EXPECT_PRED_FORMAT2(Contains, r.out, euro(day.expected_cash()));
    EXPECT_PRED_FORMAT2(Contains, r.out, euro(kDifference));
    auto p = pos.run_command({"problems"});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    EXPECT_EQ(p.out, "0 flagged\n");
  }

  // The next session of the register: Z 2, with a void of a sale of the
  // first (its refund leaves this drawer) and no difference.
  publish(till.open("SCHICHT-2", day.counted));
  ASSERT_TRUE(pub.flush(60s));
  for (int i = 0; i < 20; ++i) publish(till.sale(i == 7));
  ASSERT_TRUE(pub.flush(60s));
  for (int i = 0; i < 3 && till.voidable(); ++i) publish(till.void_of_a_sale(must_follow, i == 0));
  publish(till.cash(v1::CASH_DIRECTION_OUT, 5000));
  ASSERT_TRUE(pub.flush(60s));
  publish(till.close(0));
  ASSERT_TRUE(pub.flush(60s));
  ASSERT_TRUE(acks.errors().empty()) << acks.errors().front();
  ASSERT_TRUE(caught_up(su, pos));
  {
    const SessionModel& m = till.sessions().back();
    const auto [first, last] = first_last(m);
    expect_z_report(su, 2, m, first, last);
    pqxx::nontransaction tx(su);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM pos.z_report")[0].as<int>(), 2);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM pos.drawer_session WHERE closed_seq IS NULL")[0].as<int>(), 0);
  }
  EXPECT_EQ(stored_z_text(su, 1), z1) << "Z 1 changed";

  const int status = pos.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "SIGTERM: eck-pos " << test::ChildProcess::describe_status(status) << "; log tail:\n"
      << test::log_tail(pos.log());
  std::cout << "total "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms\n";
}

std::vector<std::string> split(const std::string& text, const std::string& sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t at; (at = text.find(sep, start)) != std::string::npos; start = at + sep.size())
    out.push_back(text.substr(start, at - start));
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

// The text with its line breaks removed: long values (serials, signature,
// QR-code text) are split over lines at the receipt's width.
std::string joined(const std::string& text) {
  std::string out;
  for (const auto& l : split(text, "\n")) out += l;
  return out;
}

TEST(PosE2E, ReceiptAndExportFromTheDaemon) {
  test::PosOptions po;
  po.business = {"Bäckerei Sonnenschein", {"Hauptstraße 1", "12345 Musterstadt"}, "12/345/67890", "DE123456789"};
  PosStack stack(po);
  auto& pos = stack.pos;
  auto& su = stack.su;
  auto publish = [&](v1::Envelope env) { ASSERT_NO_THROW(stack.send(std::move(env))); };
  auto today = [&] {
    pqxx::nontransaction tx(su);
    return tx.exec1("SELECT to_char(current_date, 'YYYY-MM-DD')")[0].as<std::string>();
  };
  const std::string day_before = today();

  publish(drawer_opened("SCHICHT-1", kRegister, 10000));
  const std::time_t at = std::time(nullptr);
  const v1::SaleCompleted first = SaleBuilder("BON-1")
                                      .on(kRegister)
                                      .session("SCHICHT-1")
                                      .at(at)
                                      .line("Brötchen", 6 * kUnit, 45, 700)
                                      .line("Kaffee groß", kUnit, 280, 1900, 30)
                                      .line("Briefmarke", 2 * kUnit, 95, 0)
                                      .line("Bergkäse", 1250, 1899, 700)
                                      .pay(v1::PAYMENT_METHOD_CASH, 5000)
                                      .build();
  const std::int64_t gross = 270 + 250 + 190 + 2374;  // 1,25 x 18,99 = 23,7375
  ASSERT_EQ(first.totals().gross().minor(), gross);
  publish(sale_event(first));
  publish(sale_event(SaleBuilder("BON-2").on(kRegister).session("SCHICHT-1").at(at)
                         .line("Wein", kUnit, 899, 1900).pay(v1::PAYMENT_METHOD_DEBIT_CARD, 899).build()));
  publish(sale_event(SaleBuilder("BON-3").on(kRegister).session("SCHICHT-1").at(at)
                         .line("Brötchen", 3 * kUnit, 45, 700).line("Kaffee groß", kUnit, 280, 1900)
                         .pay(v1::PAYMENT_METHOD_CREDIT_CARD, 200).pay(v1::PAYMENT_METHOD_CASH, 500).build()));
  ASSERT_TRUE(caught_up(su, pos));

  auto receipt = pos.run_command({"receipt", "BON-1"});
  ASSERT_EQ(receipt.exit_code, 0) << receipt.err;
  for (const std::string& part : std::vector<std::string>{
           "Bäckerei Sonnenschein", "Hauptstraße 1", "12345 Musterstadt", "12/345/67890", "DE123456789", "BON-1",
           kRegister, "Brötchen", "Kaffee groß", "Briefmarke", "Bergkäse", "Rabatt", "-0,30", "Summe EUR",
           euro(gross), "Bar", "50,00", "Rückgeld", euro(5000 - gross), "TSE-Signatur ausstehend"})
    EXPECT_PRED_FORMAT2(Contains, receipt.out, part);
  // VAT per rate of the receipt: 7 %: 270 + 2374 = 2644 (VAT 173), 19 %: 250 (VAT 40), 0 %: 190.
  EXPECT_PRED_FORMAT2(Contains, receipt.out, euro(vat_in(2644, 700)));
  EXPECT_PRED_FORMAT2(Contains, receipt.out, euro(2644 - vat_in(2644, 700)));
  EXPECT_PRED_FORMAT2(Contains, receipt.out, euro(vat_in(250, 1900)));

  const Signature sig{4711, 9876, "MEUCIQDx0Jm5Wq2b3dBf4VvTQ8kU0e9cXg1sYzH7aLpNoRiStAIgBvC3dE4fG5hI6jK7lM8nO9pQ0rS1tU2vW3xY4zA5bC6=",
                      "b5e8c7a3f1d2e4b6a8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f2a4",
                      "V0;KASSE-01;Kassenbeleg-V1;Beleg^0,00_26,44_0,00_0,00_1,90^30,84:Bar;4711;9876;"
                      "2024-06-12T10:00:00.000Z;2024-06-12T10:00:01.000Z;ecdsa-plain-SHA256;unixTime;"
                      "MEUCIQDx0Jm5Wq2b3dBf4VvTQ8kU0e9cXg1sYzH7aLpNoRiStAIgBvC3dE4fG5hI6jK7lM8nO9pQ0rS1tU2vW3xY4zA5bC6=;"
                      "BHhWOeisRpPBTGQjoCtCsbmRsLj7Dz9Om5nd0Zhf"};
  v1::Envelope signed_env = sale_signed("BON-1", kRegister, sig);
  signed_env.set_source("eck-fiscal");
  publish(signed_env);
  ASSERT_TRUE(caught_up(su, pos));

  receipt = pos.run_command({"receipt", "BON-1"});
  ASSERT_EQ(receipt.exit_code, 0) << receipt.err;
  EXPECT_EQ(receipt.out.find("TSE-Signatur ausstehend"), std::string::npos) << receipt.out;
  for (const std::string& part : std::vector<std::string>{"TSE-Transaktion:", "4711", "Signaturzähler:", "9876",
                                                          "TSE-Seriennr.:", "ecdsa-plain-SHA256", "QR-Code:",
                                                          "Summe EUR"})
    EXPECT_PRED_FORMAT2(Contains, receipt.out, part);
  const std::string flat = joined(receipt.out);
  for (const std::string& part : {sig.tse_serial, sig.signature, sig.qr_code})
    EXPECT_PRED_FORMAT2(Contains, flat, part);
  // The other sales are still waiting for their signature.
  auto other = pos.run_command({"receipt", "BON-2"});
  EXPECT_EQ(other.exit_code, 0) << other.err;
  EXPECT_PRED_FORMAT2(Contains, other.out, "TSE-Signatur ausstehend");

  auto escpos = pos.run_command({"receipt", "BON-1", "--format", "escpos"});
  ASSERT_EQ(escpos.exit_code, 0) << escpos.err;
  EXPECT_EQ(escpos.out.substr(0, 2), std::string("\x1b@")) << "ESC @ first";
  EXPECT_NE(escpos.out.find("4711"), std::string::npos);

  auto missing = pos.run_command({"receipt", "BON-404"});
  EXPECT_EQ(missing.exit_code, 1) << missing.out << missing.err;

  // The export of today: header, then one row per sale line.
  const std::string day_after = today();
  auto csv = pos.run_command({"export", "--from", day_before, "--to", day_after});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  ASSERT_EQ(csv.out.substr(0, 3), "\xEF\xBB\xBF") << "UTF-8 byte order mark";
  const auto rows = split(csv.out.substr(3), "\r\n");
  ASSERT_FALSE(rows.empty());
  const auto header = split(rows[0], ";");
  auto column = [&](const std::string& name) {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? header.size() : static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t doc = column("document"), line = column("line"), total = column("line_total"),
                    name = column("name");
  ASSERT_LT(std::max({doc, line, total, name}), header.size()) << "header: " << rows[0];
  ASSERT_EQ(rows.size(), 1u + static_cast<std::size_t>(first.lines_size()) + 1 + 2) << csv.out;
  std::map<std::string, std::vector<std::string>> by_line;  // "BON-1/2": line 2 of BON-1
  for (std::size_t i = 1; i < rows.size(); ++i) {
    const auto f = split(rows[i], ";");
    ASSERT_EQ(f.size(), header.size()) << rows[i];
    by_line[f[doc] + "/" + f[line]] = f;
  }
  ASSERT_EQ(by_line.size(), rows.size() - 1) << "one row per line";
  for (const auto& l : first.lines()) {
    const auto& f = by_line["BON-1/" + std::to_string(l.line_no())];
    ASSERT_EQ(f.size(), header.size()) << "no row for line " << l.line_no() << " of BON-1";
    EXPECT_EQ(f[name], l.name());
    EXPECT_EQ(f[total], euro(l.line_total().minor()));
  }
  EXPECT_TRUE(by_line.contains("BON-2/1"));
  EXPECT_TRUE(by_line.contains("BON-3/2"));

  const int status = pos.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << test::log_tail(pos.log());
}


// A void takes back what its sale booked, VAT included. Two sales of 0,03 at
// 19 % carry no VAT each (round(3 x 1900 / 11900) = round(0,48) = 0);
// voiding both must leave the rate at zero turnover and zero VAT.
TEST(PosE2E, VoidedSalesCancelTheirVat) {
  PosStack stack;
  SessionModel m;
  m.session_id = "SCHICHT-1";
  m.opening_float = m.counted = 1000;
  auto publish = [&](v1::Envelope env) { ASSERT_NO_THROW(stack.send(std::move(env))); };
  publish(drawer_opened("SCHICHT-1", kRegister, 1000));
  for (const std::string id : {"BON-1", "BON-2"}) {
    const v1::SaleCompleted s = SaleBuilder(id).on(kRegister).session("SCHICHT-1").line("Bonbon", kUnit, 3, 1900).build();
    m.sale(s);
    publish(sale_event(s));
    const std::vector<Tender> refund = {{v1::PAYMENT_METHOD_CASH, 3}};
    m.voided({{kStandard, 3}}, refund);
    publish(void_whole("STORNO-" + id, id, kRegister, "SCHICHT-1", refund));
  }
  publish(drawer_closed("SCHICHT-1", kRegister, 1000));
  ASSERT_TRUE(caught_up(stack.su, stack.pos));
  ASSERT_EQ(m.vat[kStandard], Amounts{}) << "the model";
  expect_z_report(stack.su, 1, m, "BON-1", "BON-2");
}

}  // namespace
}  // namespace eck
