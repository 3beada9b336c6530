#include "sale_checks.h"

#include <algorithm>
#include <limits>
#include <set>

#include <fmt/format.h>

namespace eck::pos {

namespace {

using i128 = __int128;

bool fits(i128 v) {
  return v >= std::numeric_limits<std::int64_t>::min() && v <= std::numeric_limits<std::int64_t>::max();
}

// a / b rounded half away from zero; b > 0.
i128 div_round(i128 a, i128 b) {
  const i128 q = a / b;
  const i128 r = a % b;
  if (2 * (r < 0 ? -r : r) >= b) return a < 0 ? q - 1 : q + 1;
  return q;
}

// Sums with overflow detection; `ok` turns false for good on overflow.
struct Sum {
  i128 value = 0;
  void add(std::int64_t v) { value += v; }
  bool ok() const { return fits(value); }
  std::int64_t get() const { return static_cast<std::int64_t>(value); }
};

std::string money(std::int64_t minor) {
  const bool neg = minor < 0;
  const auto abs = neg ? -static_cast<i128>(minor) : static_cast<i128>(minor);
  return fmt::format("{}{}.{:02}", neg ? "-" : "", static_cast<std::uint64_t>(abs / 100),
                     static_cast<unsigned>(abs % 100));
}

// Currency of an amount that must be in `currency` (zero amounts may omit it).
void check_currency(const v1::Money& m, const std::string& currency, const std::string& what,
                    std::vector<std::string>& problems) {
  if (m.currency() == currency) return;
  if (m.minor() == 0 && m.currency().empty()) return;
  problems.push_back(fmt::format("{} is in '{}', the sale in '{}'", what, m.currency(), currency));
}

bool fitting_rate(int category, int rate_bp) {
  if (category == v1::VAT_CATEGORY_ZERO) return rate_bp == 0;
  if (category <= v1::VAT_CATEGORY_UNSPECIFIED || category > v1::VAT_CATEGORY_ZERO) return false;
  return rate_bp > 0 && rate_bp < 10000;
}

void check_lines(const v1::SaleCompleted& sale, const std::string& currency, SaleCheck& out,
                 Sum& gross) {
  std::set<int> seen;
  for (const auto& line : sale.lines()) {
    const std::string what = fmt::format("line {}", line.line_no());
    if (line.line_no() < 1) out.problems.push_back(what + ": line numbers start at 1");
    if (!seen.insert(line.line_no()).second) out.problems.push_back(what + ": line number repeated");
    check_currency(line.unit_price(), currency, what + " unit price", out.problems);
    check_currency(line.discount(), currency, what + " discount", out.problems);
    check_currency(line.line_total(), currency, what + " total", out.problems);
    if (line.unit_price().minor() < 0) {
      out.problems.push_back(fmt::format("{}: negative unit price {}", what, money(line.unit_price().minor())));
    }
    if (line.discount().minor() < 0) {
      out.problems.push_back(fmt::format("{}: negative discount {}", what, money(line.discount().minor())));
    }
    std::int64_t expected = 0;
    if (!line_total(line.quantity_milli(), line.unit_price().minor(), line.discount().minor(),
                    expected)) {
      out.problems.push_back(what + ": quantity x price overflows");
    } else if (expected != line.line_total().minor()) {
      out.problems.push_back(fmt::format("{}: total {} but quantity x price - discount is {}", what,
                                         money(line.line_total().minor()), money(expected)));
    }
    if (!fitting_rate(line.vat().category(), line.vat().rate_bp())) {
      out.problems.push_back(fmt::format("{}: VAT category {} with rate {} does not fit", what,
                                         v1::VatCategory_Name(line.vat().category()),
                                         rate_text(line.vat().rate_bp())));
    }
    gross.add(line.line_total().minor());
    add_gross(out.vat, line.vat().category(), line.vat().rate_bp(), line.line_total().minor());
  }
}

void check_vat(const v1::SaleCompleted& sale, SaleCheck& out) {
  const auto& t = sale.totals();
  Sum net, vat;
  for (const auto& v : out.vat) {
    net.add(v.net_minor);
    vat.add(v.vat_minor);
    auto it = std::find_if(t.by_rate().begin(), t.by_rate().end(), [&](const v1::VatAmount& d) {
      return d.vat().category() == v.vat_category && d.vat().rate_bp() == v.vat_rate_bp;
    });
    const std::string rate = rate_text(v.vat_rate_bp);
    if (it == t.by_rate().end()) {
      out.problems.push_back(fmt::format("VAT at {}: missing from totals.by_rate", rate));
      continue;
    }
    if (it->vat_amount().minor() != v.vat_minor || it->net().minor() != v.net_minor ||
        it->gross().minor() != v.gross_minor) {
      out.problems.push_back(fmt::format(
          "VAT at {}: declared net {} VAT {} gross {}, computed net {} VAT {} gross {}", rate,
          money(it->net().minor()), money(it->vat_amount().minor()), money(it->gross().minor()),
          money(v.net_minor), money(v.vat_minor), money(v.gross_minor)));
    }
  }
  for (const auto& d : t.by_rate()) {
    const bool known = std::any_of(out.vat.begin(), out.vat.end(), [&](const VatTotal& v) {
      return d.vat().category() == v.vat_category && d.vat().rate_bp() == v.vat_rate_bp;
    });
    if (!known) {
      out.problems.push_back(fmt::format("VAT at {}: declared but no line has that rate",
                                         rate_text(d.vat().rate_bp())));
    }
  }
  if (!net.ok() || !vat.ok()) {
    out.problems.push_back("VAT totals overflow");
    return;
  }
  if (net.get() != t.net().minor()) {
    out.problems.push_back(fmt::format("net total {} but the rates add up to {}", money(t.net().minor()),
                                       money(net.get())));
  }
  if (vat.get() != t.vat().minor()) {
    out.problems.push_back(fmt::format("VAT total {} but the rates add up to {}", money(t.vat().minor()),
                                       money(vat.get())));
  }
}

void check_payments(const v1::SaleCompleted& sale, const std::string& currency, SaleCheck& out) {
  Sum paid, cash;
  for (int i = 0; i < sale.payments_size(); ++i) {
    const auto& p = sale.payments(i);
    const std::string what = fmt::format("payment {}", i + 1);
    check_currency(p.amount(), currency, what, out.problems);
    if (p.method() == v1::PAYMENT_METHOD_UNSPECIFIED || !v1::PaymentMethod_IsValid(p.method())) {
      out.problems.push_back(what + ": no payment method");
    }
    paid.add(p.amount().minor());
    if (p.method() == v1::PAYMENT_METHOD_CASH) cash.add(p.amount().minor());
  }
  const std::int64_t change = sale.totals().change().minor();
  check_currency(sale.totals().change(), currency, "change", out.problems);
  if (!paid.ok() || !cash.ok()) {
    out.problems.push_back("payments overflow");
    return;
  }
  out.cash_tendered_minor = cash.get();
  if (change < 0) out.problems.push_back(fmt::format("negative change {}", money(change)));
  if (change > 0 && change > cash.get()) {
    out.problems.push_back(fmt::format("change {} exceeds the cash tendered {}", money(change),
                                       money(cash.get())));
  }
  const i128 settled = paid.value - change;
  if (settled != sale.totals().gross().minor()) {
    out.problems.push_back(fmt::format(
        "payments {} minus change {} do not equal the total {}",
        fits(paid.value) ? money(paid.get()) : "(overflow)", money(change),
        money(sale.totals().gross().minor())));
  }
}

}  // namespace

std::string rate_text(int rate_bp) {
  const long long abs = std::llabs(static_cast<long long>(rate_bp));
  return fmt::format("{}{}.{:02} %", rate_bp < 0 ? "-" : "", abs / 100, abs % 100);
}

bool line_total(std::int64_t quantity_milli, std::int64_t unit_price_minor,
                std::int64_t discount_minor, std::int64_t& out) {
  const i128 v = div_round(static_cast<i128>(quantity_milli) * unit_price_minor, 1000) - discount_minor;
  if (!fits(v)) return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

std::int64_t pro_rata(std::int64_t total, std::int64_t part, std::int64_t whole) {
  if (whole == 0) return 0;  // nothing was sold: nothing to take back
  i128 a = static_cast<i128>(total) * part, b = whole;
  if (b < 0) a = -a, b = -b;
  return static_cast<std::int64_t>(div_round(a, b));
}

std::int64_t vat_of_gross(std::int64_t gross_minor, int rate_bp) {
  if (rate_bp <= 0) return 0;
  return static_cast<std::int64_t>(
      div_round(static_cast<i128>(gross_minor) * rate_bp, 10000 + static_cast<i128>(rate_bp)));
}

void add_gross(std::vector<VatTotal>& totals, int vat_category, int vat_rate_bp,
               std::int64_t gross_minor) {
  auto it = std::lower_bound(totals.begin(), totals.end(), std::pair{vat_category, vat_rate_bp},
                             [](const VatTotal& v, const std::pair<int, int>& k) {
                               return std::pair{v.vat_category, v.vat_rate_bp} < k;
                             });
  if (it == totals.end() || it->vat_category != vat_category || it->vat_rate_bp != vat_rate_bp) {
    it = totals.insert(it, VatTotal{vat_category, vat_rate_bp, 0, 0, 0});
  }
  // Saturate instead of overflowing; check_sale reports the overflow.
  const i128 g = static_cast<i128>(it->gross_minor) + gross_minor;
  it->gross_minor = fits(g) ? static_cast<std::int64_t>(g)
                            : (g < 0 ? std::numeric_limits<std::int64_t>::min()
                                     : std::numeric_limits<std::int64_t>::max());
  it->vat_minor = vat_of_gross(it->gross_minor, vat_rate_bp);
  it->net_minor = it->gross_minor - it->vat_minor;
}

SaleCheck check_sale(const v1::SaleCompleted& sale) {
  SaleCheck out;
  const std::string& currency = sale.totals().gross().currency();
  if (currency.size() != 3) {
    out.problems.push_back(fmt::format("currency '{}' is not an ISO 4217 code", currency));
  }
  Sum gross;
  check_lines(sale, currency, out, gross);
  if (!gross.ok()) {
    out.problems.push_back("line totals overflow");
  } else if (gross.get() != sale.totals().gross().minor()) {
    out.problems.push_back(fmt::format("lines add up to {}, the total says {}", money(gross.get()),
                                       money(sale.totals().gross().minor())));
  }
  check_vat(sale, out);
  check_payments(sale, currency, out);
  return out;
}

}  // namespace eck::pos
