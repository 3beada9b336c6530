// The arithmetic a till's sale must satisfy, and the VAT eck-pos computes
// itself. Pure functions of the event: no database, so every rule is tested
// directly (tests/pos_sale_checks_test.cpp).
//
// Rules (each failure is one problem string; a sale with problems is still
// recorded, flagged, counted and listed, never fixed or dropped):
// - one currency: every amount of the sale is in the currency of
//   totals.gross (an amount of 0 with no currency is fine);
// - each line: a line number of 1 or more, not repeated in the sale; unit
//   price and discount not negative; line_total =
//   round(quantity x unit_price / 1000) - discount, rounded half away from
//   zero (commercial rounding; quantities may be negative: goods taken back);
//   a VAT category and a rate that fit (ZERO has rate 0, others > 0);
// - the lines add up to totals.gross;
// - VAT per rate: gross per (category, rate) is the sum of its lines, VAT =
//   round(gross x rate / (10000 + rate)), net = gross - VAT; the till's
//   totals.by_rate must match, and totals.net / totals.vat their sums;
// - payments: each with a method; sum(payments) - change = gross (payments
//   cover the total exactly once the change is handed back); change not
//   negative and at most the cash tendered (change comes from the drawer).
// Amounts that overflow 64 bits are a problem, not undefined behaviour.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eck/v1/pos.pb.h"

namespace eck::pos {

struct VatTotal {
  int vat_category = 0;
  int vat_rate_bp = 0;
  std::int64_t net_minor = 0;
  std::int64_t vat_minor = 0;
  std::int64_t gross_minor = 0;
};

struct SaleCheck {
  std::vector<std::string> problems;  // empty: consistent
  std::vector<VatTotal> vat;          // computed from the lines, ordered by category, rate
  std::int64_t cash_tendered_minor = 0;  // sum of cash payments
};

SaleCheck check_sale(const v1::SaleCompleted& sale);

// round(quantity_milli x unit_price / 1000) - discount; false on overflow.
bool line_total(std::int64_t quantity_milli, std::int64_t unit_price_minor,
                std::int64_t discount_minor, std::int64_t& out);
// round(total x part / whole) half away from zero (whole != 0): the value
// of part of a line.
std::int64_t pro_rata(std::int64_t total, std::int64_t part, std::int64_t whole);
// VAT contained in a gross amount at rate_bp (half away from zero).
std::int64_t vat_of_gross(std::int64_t gross_minor, int rate_bp);

// Adds gross to the (category, rate) entry of `totals`, keeping it ordered,
// and recomputes that entry's net and VAT. Shared by sales and voids.
void add_gross(std::vector<VatTotal>& totals, int vat_category, int vat_rate_bp,
               std::int64_t gross_minor);

// "19.00 %" for 1900.
std::string rate_text(int rate_bp);

}  // namespace eck::pos
