#include "stock_events.h"

#include <set>
#include <string>

#include <fmt/format.h>

#include "eck/consumer.h"  // Rejected

namespace eck::inventory {

namespace {

// Runs f, prefixing a rejection with where in the event it happened.
template <typename F>
auto in_line(int line_no, F&& f) {
  try {
    return f();
  } catch (const Rejected& r) {
    throw Rejected(fmt::format("line {}: {}", line_no, r.what()));
  }
}

void check_quantity(std::int64_t q, int line_no) {
  if (q > kMaxQuantityMilli || q < -kMaxQuantityMilli) {
    throw Rejected(fmt::format("line {}: quantity {} thousandths is absurd (limit {})", line_no, q,
                               kMaxQuantityMilli));
  }
}

void check_positive(std::int64_t q, int line_no) {
  if (q <= 0) throw Rejected(fmt::format("line {}: quantity must be positive, got {}", line_no, q));
  check_quantity(q, line_no);
}

// An empty document id stands for the event_id (receipts, adjustments and
// transfers may come from tools that have no document number).
const std::string& document_id(const std::string& id, const Event& ev) {
  return id.empty() ? ev.envelope.event_id() : id;
}

void product_upserted(const v1::ProductUpserted& m, Ledger& ledger) { ledger.upsert_product(m); }

void reorder_rule_set(const v1::ReorderRuleSet& m, Ledger& ledger) {
  if (m.sku().empty()) throw Rejected("reorder rule has no sku");
  const auto p = m.reorder_point_milli();
  if (p > kMaxQuantityMilli || p < -kMaxQuantityMilli) {
    throw Rejected(fmt::format("reorder point {} thousandths is absurd", p));
  }
  const LocationId l = ledger.location(m.location());
  ledger.set_reorder_point(ledger.product(m.sku(), "", "rule"), l, p);
}

void sale_completed(const v1::SaleCompleted& m, Ledger& ledger) {
  if (m.sale_id().empty()) throw Rejected("sale has no sale_id");
  const LocationId where = ledger.location(m.location());
  // Validate every line before anything moves: a sale applies whole or not at all.
  std::set<int> seen;
  for (const auto& line : m.lines()) {
    if (line.line_no() < 1) throw Rejected(fmt::format("line_no {} is not 1 or more", line.line_no()));
    if (!seen.insert(line.line_no()).second) {
      throw Rejected(fmt::format("line_no {} appears twice", line.line_no()));
    }
    check_quantity(line.quantity_milli(), line.line_no());
    if (line.sku().empty() && line.barcode().empty()) {
      throw Rejected(fmt::format("line {}: names neither a sku nor a barcode", line.line_no()));
    }
  }
  ledger.claim_document("sale", m.sale_id());
  // Training and abandoned sales happened at the till but no goods left.
  if (m.training() || m.abandoned()) return;
  for (const auto& line : m.lines()) {
    const std::int64_t q = line.quantity_milli();
    if (q == 0) continue;
    in_line(line.line_no(), [&] {
      const ProductId p = ledger.product(line.sku(), line.barcode(), "sale");
      ledger.move(p, where, -q, q > 0 ? Reason::kSale : Reason::kSaleReturn, m.sale_id(),
                  line.line_no());
    });
  }
}

// What one void takes back from one sale line: same sign as the line sold.
struct Take {
  const SaleLineState* line;
  std::int64_t quantity;
};

std::vector<Take> void_takes(const v1::SaleVoided& m, const std::vector<SaleLineState>& lines) {
  std::vector<Take> takes;
  if (m.whole_sale()) {
    for (const auto& l : lines) {
      if (l.sold_milli != l.voided_milli) takes.push_back({&l, l.sold_milli - l.voided_milli});
    }
    if (takes.empty()) throw Rejected("sale '" + m.original_sale_id() + "' is already fully voided");
    return takes;
  }
  if (m.lines().empty()) throw Rejected("void names no lines and is not whole_sale");
  std::set<int> seen;
  for (const auto& v : m.lines()) {
    if (!seen.insert(v.line_no()).second) {
      throw Rejected(fmt::format("line {} appears twice in the void", v.line_no()));
    }
    const SaleLineState* line = nullptr;
    for (const auto& l : lines) {
      if (l.line_no == v.line_no()) line = &l;
    }
    if (!line) {
      throw Rejected(fmt::format("line {} of sale '{}' moved no stock", v.line_no(),
                                 m.original_sale_id()));
    }
    if (v.quantity_milli() < 0) {
      throw Rejected(fmt::format("line {}: void quantity must not be negative", v.line_no()));
    }
    const std::int64_t remaining = line->sold_milli - line->voided_milli;
    if (remaining == 0) throw Rejected(fmt::format("line {} is already fully voided", v.line_no()));
    const std::int64_t sign = line->sold_milli > 0 ? 1 : -1;
    const std::int64_t want = v.quantity_milli() == 0 ? remaining : sign * v.quantity_milli();
    if (want * sign > remaining * sign) {
      throw Rejected(fmt::format("line {}: void of {} thousandths but only {} remain", v.line_no(),
                                 want * sign, remaining * sign));
    }
    takes.push_back({line, want});
  }
  return takes;
}

void sale_voided(const v1::SaleVoided& m, Ledger& ledger) {
  if (m.void_id().empty()) throw Rejected("void has no void_id");
  if (m.original_sale_id().empty()) throw Rejected("void names no original_sale_id");
  if (!ledger.document_applied("sale", m.original_sale_id())) {
    throw Rejected("void of unknown sale '" + m.original_sale_id() + "'");
  }
  ledger.claim_document("void", m.void_id());
  const auto lines = ledger.sale_lines(m.original_sale_id());
  if (lines.empty()) return;  // the sale moved no stock: nothing can go back
  const auto takes = void_takes(m, lines);
  std::optional<LocationId> back_to;
  if (!m.location().empty()) back_to = ledger.location(m.location());
  for (const auto& t : takes) {
    ledger.record_void_line(m.void_id(), m.original_sale_id(), t.line->line_no, t.quantity,
                            m.restock());
    if (m.restock()) {
      ledger.move(t.line->product, back_to.value_or(t.line->location), t.quantity, Reason::kVoid,
                  m.void_id(), t.line->line_no);
    }
  }
}

void stock_received(const v1::StockReceived& m, const Event& ev, Ledger& ledger) {
  const LocationId where = ledger.location(m.location());
  if (m.lines().empty()) throw Rejected("receipt has no lines");
  for (int i = 0; i < m.lines_size(); ++i) check_positive(m.lines(i).quantity_milli(), i + 1);
  const std::string& id = document_id(m.receipt_id(), ev);
  ledger.claim_document("receipt", id);
  for (int i = 0; i < m.lines_size(); ++i) {
    const auto& line = m.lines(i);
    in_line(i + 1, [&] {
      ledger.move(ledger.product(line.sku(), line.barcode(), "receipt"), where, line.quantity_milli(),
                  Reason::kReceipt, id, i + 1);
    });
  }
}

void stock_adjusted(const v1::StockAdjusted& m, const Event& ev, Ledger& ledger) {
  const LocationId where = ledger.location(m.location());
  const ProductId p = ledger.product(m.sku(), m.barcode(), "adjustment");
  const std::string& id = document_id(m.adjustment_id(), ev);
  switch (m.change_case()) {
    case v1::StockAdjusted::kDeltaMilli:
      if (m.delta_milli() == 0) throw Rejected("adjustment with a delta of 0 changes nothing");
      check_quantity(m.delta_milli(), 1);
      ledger.claim_document("adjustment", id);
      ledger.move(p, where, m.delta_milli(), Reason::kAdjustment, id, 0);
      return;
    case v1::StockAdjusted::kCountedMilli: {
      if (m.counted_milli() < 0) throw Rejected("counted quantity must not be negative");
      check_quantity(m.counted_milli(), 1);
      ledger.claim_document("adjustment", id);
      ledger.move(p, where, m.counted_milli() - ledger.level(p, where), Reason::kCount, id, 0);
      return;
    }
    case v1::StockAdjusted::CHANGE_NOT_SET:
      break;
  }
  throw Rejected("adjustment has neither delta_milli nor counted_milli");
}

void stock_transferred(const v1::StockTransferred& m, const Event& ev, Ledger& ledger) {
  const LocationId from = ledger.location(m.from_location());
  const LocationId to = ledger.location(m.to_location());
  if (from == to) throw Rejected("transfer from a location to itself");
  if (m.lines().empty()) throw Rejected("transfer has no lines");
  for (int i = 0; i < m.lines_size(); ++i) check_positive(m.lines(i).quantity_milli(), i + 1);
  const std::string& id = document_id(m.transfer_id(), ev);
  ledger.claim_document("transfer", id);
  for (int i = 0; i < m.lines_size(); ++i) {
    const auto& line = m.lines(i);
    in_line(i + 1, [&] {
      const ProductId p = ledger.product(line.sku(), line.barcode(), "transfer");
      ledger.move(p, from, -line.quantity_milli(), Reason::kTransferOut, id, i + 1);
      ledger.move(p, to, line.quantity_milli(), Reason::kTransferIn, id, i + 1);
    });
  }
}

}  // namespace

void apply_stock_event(const Event& ev, pqxx::work& tx, Ledger& ledger) {
  const auto& env = ev.envelope;
  ledger.begin_event(tx, ev);
  switch (env.payload_case()) {
    case v1::Envelope::kProductUpserted: product_upserted(env.product_upserted(), ledger); break;
    case v1::Envelope::kReorderRuleSet: reorder_rule_set(env.reorder_rule_set(), ledger); break;
    case v1::Envelope::kSaleCompleted: sale_completed(env.sale_completed(), ledger); break;
    case v1::Envelope::kSaleVoided: sale_voided(env.sale_voided(), ledger); break;
    case v1::Envelope::kStockReceived: stock_received(env.stock_received(), ev, ledger); break;
    case v1::Envelope::kStockAdjusted: stock_adjusted(env.stock_adjusted(), ev, ledger); break;
    case v1::Envelope::kStockTransferred: stock_transferred(env.stock_transferred(), ev, ledger); break;
    default: break;  // not ours (e.g. catalog events for other daemons)
  }
  ledger.end_event();
}

}  // namespace eck::inventory
