// The arithmetic a till's sale must satisfy (services/pos/sale_checks.h, the
// contract): consistent sales pass, each rule broken alone gives exactly one
// problem that says what is wrong, rounding is half away from zero, and
// amounts at the 64-bit limits are problems, never undefined behaviour.
// No database.
//
// The consistent sales are built by tests/support/pos_sales.h with the
// test's own arithmetic; the first test pins those numbers by hand.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "sale_checks.h"
#include "support/contains.h"
#include "support/pos_sales.h"

namespace eck::pos {
namespace {

using namespace eck::test::pos;
using test::Contains;

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();

// Mixed rates, a discount, a weighed line, a zero-rated line and a return.
//   1 Kaffee      2 x 8.99          19 %   17.98
//   2 Milch       3 x 1.19 - 0.30    7 %    3.27
//   3 Bananen 1.250 x 1.99           7 %    2.49 (2.4875)
//   4 Briefmarke  1 x 0.85           0 %    0.85
//   5 Pfand      -2 x 0.25          19 %   -0.50
//                                          24.09
// 19 %: 17.48 gross, 2.79 VAT (17.48 x 19 / 119 = 2.7909), 14.69 net
//  7 %:  5.76 gross, 0.38 VAT ( 5.76 x 7 / 107 = 0.3768),  5.38 net
//  0 %:  0.85 gross, 0.00 VAT,                              0.85 net
SaleBuilder basket(const std::string& id = "S-1") {
  SaleBuilder b(id);
  b.line("Kaffee", 2 * kUnit, 899, 1900)
      .line("Milch", 3 * kUnit, 119, 700, 30)
      .line("Bananen", 1250, 199, 700)
      .line("Briefmarke", kUnit, 85, 0)
      .line("Pfand", -2 * kUnit, 25, 1900);
  return b;
}

// The basket paid with 30.00 cash: 5.91 change.
v1::SaleCompleted cash_sale() { return basket().pay(v1::PAYMENT_METHOD_CASH, 3000).build(); }

std::string problems_of(const SaleCheck& c) {
  std::string out;
  for (const auto& p : c.problems) out += "\n  " + p;
  return out.empty() ? " none" : out;
}

::testing::AssertionResult Consistent(const v1::SaleCompleted& sale) {
  const auto check = check_sale(sale);
  if (check.problems.empty()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "problems:" << problems_of(check);
}

// Exactly one problem, containing every part.
::testing::AssertionResult OneProblem(const v1::SaleCompleted& sale, const std::vector<std::string>& parts) {
  const auto check = check_sale(sale);
  if (check.problems.size() != 1) {
    return ::testing::AssertionFailure() << check.problems.size() << " problems, want one with \""
                                         << parts.front() << "\":" << problems_of(check);
  }
  for (const auto& part : parts) {
    if (check.problems[0].find(part) == std::string::npos) {
      return ::testing::AssertionFailure() << "the problem \"" << check.problems[0] << "\" lacks \"" << part << "\"";
    }
  }
  return ::testing::AssertionSuccess();
}

// Some problem containing `part`.
::testing::AssertionResult HasProblem(const v1::SaleCompleted& sale, const std::string& part) {
  const auto check = check_sale(sale);
  for (const auto& p : check.problems) {
    if (p.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no problem with \"" << part << "\":" << problems_of(check);
}

std::string vat_row(const VatTotal& v) {
  return std::to_string(v.vat_category) + "/" + std::to_string(v.vat_rate_bp) + " net " +
         std::to_string(v.net_minor) + " vat " + std::to_string(v.vat_minor) + " gross " +
         std::to_string(v.gross_minor);
}

std::vector<std::string> vat_rows(const std::vector<VatTotal>& totals) {
  std::vector<std::string> out;
  for (const auto& v : totals) out.push_back(vat_row(v));
  return out;
}

// ===========================================================================
// Consistent sales

TEST(PosSaleChecks, HandComputedMixedBasketIsConsistent) {
  const auto s = cash_sale();
  // The builder's numbers are the hand-computed ones above.
  std::vector<std::int64_t> totals;
  for (const auto& l : s.lines()) totals.push_back(l.line_total().minor());
  EXPECT_EQ(totals, (std::vector<std::int64_t>{1798, 327, 249, 85, -50}));
  EXPECT_EQ(s.totals().gross().minor(), 2409);
  EXPECT_EQ(s.totals().net().minor(), 2092);
  EXPECT_EQ(s.totals().vat().minor(), 317);
  EXPECT_EQ(s.totals().change().minor(), 591);
  ASSERT_EQ(s.totals().by_rate_size(), 3);

  const auto check = check_sale(s);
  EXPECT_TRUE(check.problems.empty()) << problems_of(check);
  EXPECT_EQ(vat_rows(check.vat), (std::vector<std::string>{"1/1900 net 1469 vat 279 gross 1748",
                                                            "2/700 net 538 vat 38 gross 576",
                                                            "5/0 net 85 vat 0 gross 85"}));
  EXPECT_EQ(check.cash_tendered_minor, 3000);
}

TEST(PosSaleChecks, CardAndCashSplitWithChangeIsConsistent) {
  // 20.00 card + 5.00 cash for 24.09: 0.91 change out of the cash.
  const auto s = basket().pay(v1::PAYMENT_METHOD_DEBIT_CARD, 2000).pay(v1::PAYMENT_METHOD_CASH, 500).build();
  EXPECT_EQ(s.totals().change().minor(), 91);
  EXPECT_TRUE(Consistent(s));
  EXPECT_EQ(check_sale(s).cash_tendered_minor, 500);
  // Exactly covered by three methods, no change.
  EXPECT_TRUE(Consistent(basket()
                             .pay(v1::PAYMENT_METHOD_CREDIT_CARD, 1009)
                             .pay(v1::PAYMENT_METHOD_VOUCHER, 400)
                             .pay(v1::PAYMENT_METHOD_CASH, 1000)
                             .build()));
  // Change equal to all the cash tendered.
  EXPECT_TRUE(Consistent(basket().pay(v1::PAYMENT_METHOD_ELECTRONIC, 2409).pay(v1::PAYMENT_METHOD_CASH, 100).build()));
}

TEST(PosSaleChecks, ReturnSaleWithNegativeTotalIsConsistent) {
  // Goods taken back: negative quantities, negative total, cash paid out.
  const auto s = SaleBuilder("R-1").line("Kaffee", -kUnit, 899, 1900).line("Milch", -2 * kUnit, 119, 700).build();
  EXPECT_EQ(s.totals().gross().minor(), -1137);
  EXPECT_TRUE(Consistent(s));
  const auto check = check_sale(s);
  // 19 %: -8.99 -> VAT -1.44 (-1.4354); 7 %: -2.38 -> VAT -0.16 (-0.1557).
  EXPECT_EQ(vat_rows(check.vat), (std::vector<std::string>{"1/1900 net -755 vat -144 gross -899",
                                                            "2/700 net -222 vat -16 gross -238"}));
  EXPECT_EQ(check.cash_tendered_minor, -1137);
}

TEST(PosSaleChecks, ZeroAmountsMayOmitTheCurrency) {
  auto s = cash_sale();
  s.mutable_lines(0)->mutable_discount()->clear_currency();  // 0.00
  s.mutable_lines(3)->mutable_discount()->clear_currency();
  EXPECT_TRUE(Consistent(s));
  s.mutable_totals()->mutable_change()->set_minor(0);
  s.mutable_totals()->mutable_change()->clear_currency();
  s.mutable_payments(0)->mutable_amount()->set_minor(2409);
  EXPECT_TRUE(Consistent(s));
}

// ===========================================================================
// Each rule broken alone: exactly one problem

TEST(PosSaleChecks, WrongLineTotal) {
  auto s = cash_sale();
  s.mutable_lines(1)->mutable_line_total()->set_minor(328);
  retotal(s);  // the totals follow the declared lines: only the line is wrong
  EXPECT_TRUE(OneProblem(s, {"line 2", "3.28", "3.27"}));
}

TEST(PosSaleChecks, LinesNotAddingUpToTheGross) {
  auto s = cash_sale();
  s.mutable_totals()->mutable_gross()->set_minor(2410);
  s.mutable_totals()->mutable_change()->set_minor(590);  // payments still settle 24.10
  EXPECT_TRUE(OneProblem(s, {"lines add up to 24.09", "24.10"}));
}

TEST(PosSaleChecks, DeclaredVatOfARateOffByACent) {
  auto s = cash_sale();
  auto* standard = s.mutable_totals()->mutable_by_rate(0);
  ASSERT_EQ(standard->vat().rate_bp(), 1900);
  standard->mutable_vat_amount()->set_minor(280);
  standard->mutable_net()->set_minor(1468);
  EXPECT_TRUE(OneProblem(s, {"VAT at 19.00 %", "2.80", "2.79"}));
  // The net of a rate alone.
  s = cash_sale();
  s.mutable_totals()->mutable_by_rate(1)->mutable_net()->set_minor(537);
  EXPECT_TRUE(OneProblem(s, {"VAT at 7.00 %", "5.37", "5.38"}));
}

TEST(PosSaleChecks, RateDeclaredWithoutALine) {
  auto s = cash_sale();
  auto* extra = s.mutable_totals()->add_by_rate();
  extra->mutable_vat()->set_category(v1::VAT_CATEGORY_AVERAGE_24_1_1);
  extra->mutable_vat()->set_rate_bp(1070);
  EXPECT_TRUE(OneProblem(s, {"10.70 %", "no line"}));
}

TEST(PosSaleChecks, RateOfALineMissingFromTheDeclaration) {
  auto s = cash_sale();
  ASSERT_EQ(s.totals().by_rate(2).vat().category(), v1::VAT_CATEGORY_ZERO);
  s.mutable_totals()->mutable_by_rate()->RemoveLast();
  EXPECT_TRUE(OneProblem(s, {"VAT at 0.00 %", "missing"}));
}

TEST(PosSaleChecks, NetOrVatTotalOff) {
  auto s = cash_sale();
  s.mutable_totals()->mutable_net()->set_minor(2093);
  EXPECT_TRUE(OneProblem(s, {"net total 20.93", "20.92"}));
  s = cash_sale();
  s.mutable_totals()->mutable_vat()->set_minor(316);
  EXPECT_TRUE(OneProblem(s, {"VAT total 3.16", "3.17"}));
}

TEST(PosSaleChecks, PaymentsNotCoveringTheTotal) {
  auto s = basket().pay(v1::PAYMENT_METHOD_CASH, 2000).build();
  s.mutable_totals()->mutable_change()->set_minor(0);  // 20.00 for 24.09
  EXPECT_TRUE(OneProblem(s, {"payments 20.00 minus change 0.00", "24.09"}));
  // Overpaid with too little change back.
  s = cash_sale();
  s.mutable_totals()->mutable_change()->set_minor(500);
  EXPECT_TRUE(OneProblem(s, {"payments 30.00 minus change 5.00", "24.09"}));
}

TEST(PosSaleChecks, ChangeExceedingTheCashTendered) {
  // 1.00 cash + 28.09 card - 5.00 change = 24.09, but 5.00 > 1.00 in the drawer.
  const auto s = basket().pay(v1::PAYMENT_METHOD_CASH, 100).pay(v1::PAYMENT_METHOD_CREDIT_CARD, 2809).build();
  EXPECT_EQ(s.totals().change().minor(), 500);
  EXPECT_TRUE(OneProblem(s, {"change 5.00 exceeds the cash tendered 1.00"}));
  // No cash at all.
  EXPECT_TRUE(OneProblem(basket().pay(v1::PAYMENT_METHOD_DEBIT_CARD, 2500).build(),
                         {"change 0.91 exceeds the cash tendered 0.00"}));
}

TEST(PosSaleChecks, NegativeChange) {
  const auto s = basket().pay(v1::PAYMENT_METHOD_CASH, 2408).build();  // settles with change -0.01
  EXPECT_EQ(s.totals().change().minor(), -1);
  EXPECT_TRUE(OneProblem(s, {"negative change -0.01"}));
}

TEST(PosSaleChecks, PaymentWithoutMethod) {
  auto s = basket().pay(v1::PAYMENT_METHOD_DEBIT_CARD, 2000).pay(v1::PAYMENT_METHOD_CASH, 500).build();
  s.mutable_payments(0)->set_method(v1::PAYMENT_METHOD_UNSPECIFIED);
  EXPECT_TRUE(OneProblem(s, {"payment 1", "no payment method"}));
  // A number outside the enum (an open enum in proto3) is no method either.
  s.mutable_payments(0)->set_method(static_cast<v1::PaymentMethod>(42));
  EXPECT_TRUE(OneProblem(s, {"payment 1", "no payment method"}));
}

TEST(PosSaleChecks, CurrencyMismatch) {
  auto s = cash_sale();
  s.mutable_payments(0)->mutable_amount()->set_currency("USD");
  EXPECT_TRUE(OneProblem(s, {"payment 1", "USD", "EUR"}));
  s = cash_sale();
  s.mutable_lines(0)->mutable_unit_price()->set_currency("CHF");
  EXPECT_TRUE(OneProblem(s, {"line 1 unit price", "CHF"}));
  s = cash_sale();
  s.mutable_lines(2)->mutable_line_total()->clear_currency();  // 2.49 with no currency
  EXPECT_TRUE(OneProblem(s, {"line 3 total", "EUR"}));
  s = cash_sale();
  s.mutable_totals()->mutable_change()->set_currency("GBP");
  EXPECT_TRUE(OneProblem(s, {"change", "GBP"}));
}

TEST(PosSaleChecks, NegativeUnitPrice) {
  const auto s = basket().line("Coupon", kUnit, -100, 1900).build();
  EXPECT_TRUE(OneProblem(s, {"line 6", "negative unit price -1.00"}));
}

TEST(PosSaleChecks, NegativeDiscount) {
  // The "discount" makes the line dearer: 1.19 + 0.30.
  const auto s = basket().line("Milch", kUnit, 119, 700, -30).build();
  EXPECT_EQ(s.lines(5).line_total().minor(), 149);
  EXPECT_TRUE(OneProblem(s, {"line 6", "negative discount -0.30"}));
}

TEST(PosSaleChecks, VatCategoryAndRateThatDoNotFit) {
  auto s = basket().line("Zeitung", kUnit, 250, 700).build();
  s.mutable_lines(5)->mutable_vat()->set_category(v1::VAT_CATEGORY_ZERO);
  retotal(s);
  EXPECT_TRUE(OneProblem(s, {"line 6", "ZERO", "7.00 %"}));

  s = basket().line("Zeitung", kUnit, 250, 0).build();
  s.mutable_lines(5)->mutable_vat()->set_category(v1::VAT_CATEGORY_STANDARD);
  retotal(s);
  EXPECT_TRUE(OneProblem(s, {"line 6", "STANDARD", "0.00 %"}));

  s = basket().line("Zeitung", kUnit, 250, 1900).build();
  s.mutable_lines(5)->mutable_vat()->set_category(v1::VAT_CATEGORY_UNSPECIFIED);
  retotal(s);
  EXPECT_TRUE(OneProblem(s, {"line 6", "UNSPECIFIED"}));
}

// ===========================================================================
// Rounding: half away from zero, at .5 exactly, both signs

TEST(PosSaleChecks, LineTotalRoundsHalfAwayFromZero) {
  auto total = [](std::int64_t q, std::int64_t price, std::int64_t discount = 0) {
    std::int64_t out = 12345;
    EXPECT_TRUE(line_total(q, price, discount, out)) << q << " x " << price;
    return out;
  };
  EXPECT_EQ(total(500, 1), 1);     // 0.5
  EXPECT_EQ(total(-500, 1), -1);   // -0.5
  EXPECT_EQ(total(500, -1), -1);
  EXPECT_EQ(total(1500, 1), 2);    // 1.5
  EXPECT_EQ(total(2500, 1), 3);    // 2.5: not to even
  EXPECT_EQ(total(-2500, 1), -3);
  EXPECT_EQ(total(499, 1), 0);
  EXPECT_EQ(total(-499, 1), 0);
  EXPECT_EQ(total(501, 1), 1);
  EXPECT_EQ(total(-501, 1), -1);
  EXPECT_EQ(total(1250, 199), 249);  // 248.75
  EXPECT_EQ(total(1250, 198), 248);  // 247.5
  EXPECT_EQ(total(-1250, 198), -248);
  // The discount is subtracted after rounding.
  EXPECT_EQ(total(2500, 1, 1), 2);
  EXPECT_EQ(total(-2500, 1, 1), -4);
  EXPECT_EQ(total(0, 999, 0), 0);

  // And check_sale applies that rule: 0.5 cent rounds to 1 cent, -0.5 to -1.
  auto s = SaleBuilder("H").line("Halb", 500, 1, 1900).line("Halb zurück", -1500, 1, 1900).build();
  EXPECT_EQ(s.lines(0).line_total().minor(), 1);
  EXPECT_EQ(s.lines(1).line_total().minor(), -2);
  EXPECT_TRUE(Consistent(s));
  s.mutable_lines(1)->mutable_line_total()->set_minor(-1);  // rounded towards zero
  s.clear_payments();
  retotal(s);
  EXPECT_TRUE(OneProblem(s, {"line 2", "-0.01", "-0.02"}));
}

TEST(PosSaleChecks, VatOfGrossRoundsHalfAwayFromZero) {
  // 100 %: VAT = gross / 2, so odd amounts end in .5 exactly.
  EXPECT_EQ(vat_of_gross(1, 10000), 1);
  EXPECT_EQ(vat_of_gross(-1, 10000), -1);
  EXPECT_EQ(vat_of_gross(3, 10000), 2);
  EXPECT_EQ(vat_of_gross(5, 10000), 3);
  EXPECT_EQ(vat_of_gross(-5, 10000), -3);
  // 60 %: VAT = gross x 3 / 8.
  EXPECT_EQ(vat_of_gross(4, 6000), 2);     // 1.5
  EXPECT_EQ(vat_of_gross(-4, 6000), -2);
  EXPECT_EQ(vat_of_gross(12, 6000), 5);    // 4.5
  EXPECT_EQ(vat_of_gross(-12, 6000), -5);
  EXPECT_EQ(vat_of_gross(1, 6000), 0);     // 0.375
  // German rates.
  EXPECT_EQ(vat_of_gross(1748, 1900), 279);  // 279.09
  EXPECT_EQ(vat_of_gross(1000, 1900), 160);  // 159.66
  EXPECT_EQ(vat_of_gross(-1000, 1900), -160);
  EXPECT_EQ(vat_of_gross(119, 700), 8);      // 7.79
  EXPECT_EQ(vat_of_gross(107, 700), 7);      // exactly 7
  EXPECT_EQ(vat_of_gross(0, 1900), 0);
  EXPECT_EQ(vat_of_gross(1000, 0), 0);
}

TEST(PosSaleChecks, ProRataRoundsHalfAwayFromZeroAndAddsUp) {
  EXPECT_EQ(pro_rata(1, 1, 2), 1);     // 0.5
  EXPECT_EQ(pro_rata(-1, 1, 2), -1);
  EXPECT_EQ(pro_rata(5, 1, 2), 3);     // 2.5
  EXPECT_EQ(pro_rata(-5, 1, 2), -3);
  EXPECT_EQ(pro_rata(5, 1, -2), -3);   // a negative whole
  EXPECT_EQ(pro_rata(-5, -1, -2), -3);
  EXPECT_EQ(pro_rata(1000, 3000, 3000), 1000);
  EXPECT_EQ(pro_rata(1000, 0, 3000), 0);
  // 10.00 for 3 in thirds, cumulatively: 3.33, 6.67, 10.00.
  EXPECT_EQ(pro_rata(1000, 1000, 3000), 333);
  EXPECT_EQ(pro_rata(1000, 2000, 3000), 667);
  EXPECT_EQ(pro_rata(-1000, -1000, -3000), -333);
  EXPECT_EQ(pro_rata(-1000, -2000, -3000), -667);
}

TEST(PosSaleChecks, AddGrossKeepsRatesOrderedAndRecomputesVat) {
  std::vector<VatTotal> totals;
  add_gross(totals, v1::VAT_CATEGORY_ZERO, 0, 85);
  add_gross(totals, v1::VAT_CATEGORY_REDUCED, 700, 327);
  add_gross(totals, v1::VAT_CATEGORY_STANDARD, 1900, 1798);
  add_gross(totals, v1::VAT_CATEGORY_REDUCED, 700, 249);
  add_gross(totals, v1::VAT_CATEGORY_STANDARD, 1900, -50);
  add_gross(totals, v1::VAT_CATEGORY_STANDARD, 1600, 100);  // 2020's rate apart
  EXPECT_EQ(vat_rows(totals), (std::vector<std::string>{"1/1600 net 86 vat 14 gross 100",
                                                         "1/1900 net 1469 vat 279 gross 1748",
                                                         "2/700 net 538 vat 38 gross 576",
                                                         "5/0 net 85 vat 0 gross 85"}));
  // A void takes it back to zero.
  add_gross(totals, v1::VAT_CATEGORY_STANDARD, 1600, -100);
  EXPECT_EQ(vat_row(totals[0]), "1/1600 net 0 vat 0 gross 0");
}

// ===========================================================================
// 64-bit limits: problems, not undefined behaviour (the sanitizer build of
// these tests is the proof; here: no crash and a problem saying so)

TEST(PosSaleChecks, LineTotalOverflowIsReported) {
  std::int64_t out = 7;
  EXPECT_FALSE(line_total(kMax, kMax, 0, out));
  EXPECT_FALSE(line_total(kMin, kMax, 0, out));
  EXPECT_FALSE(line_total(kMin, kMin, 0, out));
  EXPECT_FALSE(line_total(2000, kMax, 0, out));      // twice the largest price
  EXPECT_FALSE(line_total(1000, kMax, -1, out));     // one past by the discount
  EXPECT_FALSE(line_total(0, 0, kMin, out));         // minus the smallest discount
  EXPECT_FALSE(line_total(-1000, kMax, 2, out));
  EXPECT_EQ(out, 7) << "out is left alone on overflow";
  // Right at the limits is fine.
  EXPECT_TRUE(line_total(1000, kMax, 0, out));
  EXPECT_EQ(out, kMax);
  EXPECT_TRUE(line_total(-1000, kMax, 1, out));
  EXPECT_EQ(out, kMin);
  EXPECT_TRUE(line_total(1000, kMin, 0, out));
  EXPECT_EQ(out, kMin);
  EXPECT_TRUE(line_total(0, 0, kMax, out));
  EXPECT_EQ(out, -kMax);
}

TEST(PosSaleChecks, HugeQuantityTimesPriceIsAProblem) {
  auto s = cash_sale();
  auto* l = s.mutable_lines(0);
  l->set_quantity_milli(kMax);
  l->mutable_unit_price()->set_minor(kMax);
  l->mutable_line_total()->set_minor(0);
  retotal(s);
  EXPECT_TRUE(OneProblem(s, {"line 1", "overflow"}));
  l = s.mutable_lines(0);
  l->set_quantity_milli(kMin);
  l->mutable_unit_price()->set_minor(kMax);
  EXPECT_TRUE(OneProblem(s, {"line 1", "overflow"}));
}

TEST(PosSaleChecks, LineTotalsAddingPastTheLimitAreAProblem) {
  v1::SaleCompleted s;
  s.set_sale_id("BIG");
  for (int i = 1; i <= 3; ++i) {
    auto* l = s.add_lines();
    l->set_line_no(i);
    l->set_quantity_milli(kUnit);
    set_money(l->mutable_unit_price(), kMax, "EUR");
    set_money(l->mutable_line_total(), kMax, "EUR");
    l->mutable_vat()->set_category(v1::VAT_CATEGORY_STANDARD);
    l->mutable_vat()->set_rate_bp(1900);
  }
  set_money(s.mutable_totals()->mutable_gross(), kMax, "EUR");
  EXPECT_TRUE(HasProblem(s, "overflow"));
  // And the other way.
  for (auto& l : *s.mutable_lines()) {
    l.set_quantity_milli(-kUnit);
    l.mutable_line_total()->set_minor(kMin);
  }
  EXPECT_TRUE(HasProblem(s, "overflow"));
}

TEST(PosSaleChecks, PaymentsAddingPastTheLimitAreAProblem) {
  auto s = cash_sale();
  s.mutable_payments(0)->mutable_amount()->set_minor(kMax);
  auto* p = s.add_payments();
  p->set_method(v1::PAYMENT_METHOD_CASH);
  set_money(p->mutable_amount(), kMax, "EUR");
  s.mutable_totals()->mutable_change()->set_minor(0);
  EXPECT_TRUE(HasProblem(s, "overflow"));
}

TEST(PosSaleChecks, EveryAmountAtTheInt64ExtremesIsHandled) {
  for (const std::int64_t extreme : {kMin, kMin + 1, kMax, kMax - 1}) {
    SCOPED_TRACE(extreme);
    auto s = cash_sale();
    for (auto& l : *s.mutable_lines()) {
      l.set_quantity_milli(extreme);
      l.mutable_unit_price()->set_minor(extreme);
      l.mutable_discount()->set_minor(extreme);
      l.mutable_line_total()->set_minor(extreme);
    }
    auto* t = s.mutable_totals();
    for (auto* m : {t->mutable_gross(), t->mutable_net(), t->mutable_vat(), t->mutable_change()}) m->set_minor(extreme);
    for (auto& v : *t->mutable_by_rate()) {
      v.mutable_net()->set_minor(extreme);
      v.mutable_vat_amount()->set_minor(extreme);
      v.mutable_gross()->set_minor(extreme);
    }
    s.mutable_payments(0)->mutable_amount()->set_minor(extreme);
    const auto check = check_sale(s);
    EXPECT_FALSE(check.problems.empty());
    for (const auto& v : check.vat) {
      EXPECT_EQ(v.net_minor + v.vat_minor, v.gross_minor) << vat_row(v);  // saturated, still whole
    }
  }
}

TEST(PosSaleChecks, VatAndProRataAtTheLimits) {
  EXPECT_EQ(vat_of_gross(kMax, 1900), 1472639232775132272);
  EXPECT_EQ(vat_of_gross(kMin, 1900), -1472639232775132272);
  EXPECT_EQ(vat_of_gross(kMax, 700), 603398170635359165);
  EXPECT_EQ(pro_rata(kMax, kMax, kMax), kMax);
  EXPECT_EQ(pro_rata(kMin, kMax, kMax), kMin);
  EXPECT_EQ(pro_rata(kMax, 1, kMin), -1);  // a whole of -2^63: (2^63 - 1) / -2^63 rounds to -1
  EXPECT_EQ(pro_rata(kMin, kMin, kMin), kMin);

  std::vector<VatTotal> totals;
  add_gross(totals, v1::VAT_CATEGORY_STANDARD, 1900, kMax);
  add_gross(totals, v1::VAT_CATEGORY_STANDARD, 1900, kMax);  // saturates
  ASSERT_EQ(totals.size(), 1u);
  EXPECT_EQ(totals[0].gross_minor, kMax);
  EXPECT_EQ(totals[0].vat_minor, 1472639232775132272);
  EXPECT_EQ(totals[0].net_minor + totals[0].vat_minor, kMax);
  add_gross(totals, v1::VAT_CATEGORY_REDUCED, 700, kMin);
  add_gross(totals, v1::VAT_CATEGORY_REDUCED, 700, -1);
  EXPECT_EQ(totals[1].gross_minor, kMin);
  EXPECT_EQ(totals[1].net_minor + totals[1].vat_minor, kMin);
}

// DAEMON BUG: vat_of_gross computes `10000 + rate_bp` in int, which
// overflows (undefined behaviour) for a rate above INT_MAX - 10000; a till
// can send any int32 rate, and check_sale computes the VAT of every line's
// rate. -fsanitize=undefined: "signed integer overflow: 2147483647 + 10000";
// without it the VAT comes out as -99 for 100 instead of 100.
TEST(PosSaleChecks, AbsurdVatRatesAreHandled) {
  // The VAT contained in 1.00 at 21474836.47 %: all of it, rounded.
  EXPECT_EQ(vat_of_gross(100, std::numeric_limits<int>::max()), 100);
  EXPECT_EQ(vat_of_gross(-100, std::numeric_limits<int>::max()), -100);
  EXPECT_EQ(vat_of_gross(100, std::numeric_limits<int>::max() - 9999), 100);
  // check_sale survives them (the declared 19 % no longer matches: a problem).
  for (const int rate : {std::numeric_limits<int>::max(), std::numeric_limits<int>::max() - 9999, 20000}) {
    SCOPED_TRACE(rate);
    auto s = cash_sale();
    s.mutable_lines(0)->mutable_vat()->set_rate_bp(rate);
    EXPECT_FALSE(check_sale(s).problems.empty());
  }
}

TEST(PosSaleChecks, NegativeVatRateIsAProblemThatSaysSo) {
  for (const int rate : {std::numeric_limits<int>::min(), -1900}) {
    SCOPED_TRACE(rate);
    auto s = cash_sale();
    s.mutable_lines(0)->mutable_vat()->set_rate_bp(rate);
    EXPECT_TRUE(HasProblem(s, "line 1: VAT category VAT_CATEGORY_STANDARD with rate -"));
  }
}

// DAEMON BUG (minor): rate_text drops the sign of a rate between -1 and
// -99 bp (-50 / 100 is 0), so the problem says "rate 0.50 % does not fit"
// for a rate of -0.50 %: not the clear problem the contract wants.
TEST(PosSaleChecks, SmallNegativeRateIsShownWithItsSign) {
  EXPECT_EQ(rate_text(1900), "19.00 %");
  EXPECT_EQ(rate_text(1070), "10.70 %");
  EXPECT_EQ(rate_text(-1900), "-19.00 %");
  EXPECT_EQ(rate_text(-50), "-0.50 %");
  auto s = cash_sale();
  s.mutable_lines(0)->mutable_vat()->set_rate_bp(-50);
  EXPECT_TRUE(HasProblem(s, "-0.50 %"));
}

}  // namespace
}  // namespace eck::pos
