// Sales as a till publishes them, built for the pos tests. The line totals
// and the declared totals (gross, VAT per rate, net, VAT, change) are
// computed here with the test's own arithmetic, not eck-pos's, so a test can
// start from a consistent sale and break exactly one rule of sale_checks.h.
//
//   using namespace eck::test::pos;
//   auto s = SaleBuilder("S-1")
//                .line("Kaffee", 2 * kUnit, 899, 1900)        // 2 x 8.99 at 19 %
//                .line("Milch", 3 * kUnit, 119, 700, 30)      // discount 0.30
//                .pay(v1::PAYMENT_METHOD_CASH, 3000)
//                .build();                                    // change 30.00 - total
//   s.mutable_lines(0)->mutable_line_total()->set_minor(1799);
//   retotal(s);                                               // totals follow the lines again
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "eck/v1/pos.pb.h"

namespace eck::test::pos {

constexpr std::int64_t kUnit = 1000;  // one piece in thousandths
// 2024-03-15 12:00:00 UTC: when the sales of the tests happen.
constexpr std::int64_t kNoon = 1710504000;

// a / b rounded half away from zero; b > 0, no overflow (test amounts).
inline std::int64_t round_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b, r = a % b;
  if (2 * (r < 0 ? -r : r) >= b) return a < 0 ? q - 1 : q + 1;
  return q;
}

// The German category of a rate as tills send it.
inline v1::VatCategory category_of(int rate_bp) {
  switch (rate_bp) {
    case 1900: return v1::VAT_CATEGORY_STANDARD;
    case 700: return v1::VAT_CATEGORY_REDUCED;
    case 0: return v1::VAT_CATEGORY_ZERO;
    default: return v1::VAT_CATEGORY_AVERAGE_24_1_3;
  }
}

inline void set_money(v1::Money* m, std::int64_t minor, const std::string& currency) {
  m->set_minor(minor);
  m->set_currency(currency);
}

// Declared totals from the declared line totals: gross, by_rate (ordered by
// category, rate; VAT = round(gross x rate / (10000 + rate))), net, VAT; the
// change so that payments - change = gross. Without payments: cash, exact.
inline void retotal(v1::SaleCompleted& s) {
  const std::string currency = s.totals().gross().currency();
  std::map<std::pair<int, int>, std::int64_t> by_rate;  // (category, rate) -> gross
  std::int64_t gross = 0, net = 0, vat = 0;
  for (const auto& l : s.lines()) {
    gross += l.line_total().minor();
    by_rate[{l.vat().category(), l.vat().rate_bp()}] += l.line_total().minor();
  }
  auto* t = s.mutable_totals();
  t->clear_by_rate();
  for (const auto& [key, g] : by_rate) {
    const auto [category, rate] = key;
    const std::int64_t v = rate > 0 ? round_div(g * rate, 10000 + rate) : 0;
    auto* e = t->add_by_rate();
    e->mutable_vat()->set_category(static_cast<v1::VatCategory>(category));
    e->mutable_vat()->set_rate_bp(rate);
    set_money(e->mutable_net(), g - v, currency);
    set_money(e->mutable_vat_amount(), v, currency);
    set_money(e->mutable_gross(), g, currency);
    net += g - v;
    vat += v;
  }
  set_money(t->mutable_gross(), gross, currency);
  set_money(t->mutable_net(), net, currency);
  set_money(t->mutable_vat(), vat, currency);
  if (s.payments_size() == 0) {
    auto* p = s.add_payments();
    p->set_method(v1::PAYMENT_METHOD_CASH);
    set_money(p->mutable_amount(), gross, currency);
  }
  std::int64_t paid = 0;
  for (const auto& p : s.payments()) paid += p.amount().minor();
  set_money(t->mutable_change(), paid - gross, currency);
}

class SaleBuilder {
 public:
  // On register till-1 at "Laden", cashier anna, finished at kNoon.
  explicit SaleBuilder(const std::string& sale_id, const std::string& currency = "EUR") {
    s_.set_sale_id(sale_id);
    s_.set_register_id("till-1");
    s_.set_location("Laden");
    s_.set_cashier("anna");
    s_.mutable_started_at()->set_seconds(kNoon - 60);
    s_.mutable_finished_at()->set_seconds(kNoon);
    s_.mutable_totals()->mutable_gross()->set_currency(currency);
  }

  // quantity x price - discount, rounded half away from zero.
  SaleBuilder& line(const std::string& name, std::int64_t quantity_milli, std::int64_t unit_price, int rate_bp,
                    std::int64_t discount = 0) {
    const std::string& currency = s_.totals().gross().currency();
    auto* l = s_.add_lines();
    l->set_line_no(s_.lines_size());
    l->set_sku("SKU-" + name);
    l->set_name(name);
    l->set_quantity_milli(quantity_milli);
    set_money(l->mutable_unit_price(), unit_price, currency);
    l->mutable_vat()->set_category(category_of(rate_bp));
    l->mutable_vat()->set_rate_bp(rate_bp);
    set_money(l->mutable_discount(), discount, currency);
    set_money(l->mutable_line_total(), round_div(quantity_milli * unit_price, 1000) - discount, currency);
    return *this;
  }

  SaleBuilder& pay(v1::PaymentMethod method, std::int64_t amount) {
    auto* p = s_.add_payments();
    p->set_method(method);
    set_money(p->mutable_amount(), amount, s_.totals().gross().currency());
    return *this;
  }

  SaleBuilder& session(const std::string& session_id) {
    s_.set_session_id(session_id);
    return *this;
  }
  SaleBuilder& on(const std::string& register_id) {
    s_.set_register_id(register_id);
    return *this;
  }
  SaleBuilder& at(std::int64_t finished_at) {
    s_.mutable_started_at()->set_seconds(finished_at - 60);
    s_.mutable_finished_at()->set_seconds(finished_at);
    return *this;
  }
  SaleBuilder& training() {
    s_.set_training(true);
    return *this;
  }

  v1::SaleCompleted build() const {
    v1::SaleCompleted s = s_;
    retotal(s);
    return s;
  }

 private:
  v1::SaleCompleted s_;
};

}  // namespace eck::test::pos
