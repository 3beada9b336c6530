// Catalog, till and warehouse events as eck-inventory consumes them, built
// in one line each for the inventory tests. Only the payload is set: the
// caller (or the publisher) completes the envelope. Quantities are
// thousandths of a unit (kUnit = one unit).
//
//   using namespace eck::test::stock;
//   sale("S-1", "shop", {{1, "TEA", 2 * kUnit}, {2, "", kUnit, "4001"}});
//   void_lines("V-1", "S-1", {{1, 0}});          // all that remains of line 1
//   receipt("R-1", "shop", {{"TEA", 10 * kUnit}});
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eck/v1/envelope.pb.h"

namespace eck::test::stock {

constexpr std::int64_t kUnit = 1000;

// A sale line: line_no, sku, quantity, barcode.
struct Line {
  int no = 0;
  std::string sku;
  std::int64_t quantity = 0;
  std::string barcode = {};
};

// A receipt or transfer line: sku, quantity, barcode.
struct Item {
  std::string sku;
  std::int64_t quantity = 0;
  std::string barcode = {};
};

// A voided line: line_no and quantity (0: all that remains of it).
struct Taken {
  int no = 0;
  std::int64_t quantity = 0;
};

inline v1::Envelope product(const std::string& sku, const std::vector<std::string>& barcodes = {},
                            const std::string& name = "") {
  v1::Envelope env;
  auto* p = env.mutable_product_upserted();
  p->set_sku(sku);
  for (const auto& b : barcodes) p->add_barcodes(b);
  p->set_name(name.empty() ? "Product " + sku : name);
  p->set_unit("pcs");
  return env;
}

inline v1::Envelope rule(const std::string& sku, const std::string& location, std::int64_t point) {
  v1::Envelope env;
  auto* r = env.mutable_reorder_rule_set();
  r->set_sku(sku);
  r->set_location(location);
  r->set_reorder_point_milli(point);
  r->set_max_level_milli(point + 10 * kUnit);
  return env;
}

inline v1::Envelope sale(const std::string& id, const std::string& location, const std::vector<Line>& lines) {
  v1::Envelope env;
  auto* s = env.mutable_sale_completed();
  s->set_sale_id(id);
  s->set_register_id("till-1");
  s->set_location(location);
  for (const auto& l : lines) {
    auto* x = s->add_lines();
    x->set_line_no(l.no);
    x->set_sku(l.sku);
    x->set_barcode(l.barcode);
    x->set_quantity_milli(l.quantity);
  }
  return env;
}

// A void of the listed lines of `sale_id`; restocked at `location` (empty:
// the sale's).
inline v1::Envelope void_lines(const std::string& id, const std::string& sale_id, const std::vector<Taken>& lines,
                               bool restock = true, const std::string& location = "") {
  v1::Envelope env;
  auto* v = env.mutable_sale_voided();
  v->set_void_id(id);
  v->set_original_sale_id(sale_id);
  v->set_register_id("till-1");
  v->set_location(location);
  v->set_restock(restock);
  for (const auto& t : lines) {
    auto* x = v->add_lines();
    x->set_line_no(t.no);
    x->set_quantity_milli(t.quantity);
  }
  return env;
}

// A void of everything that remains of `sale_id`.
inline v1::Envelope void_whole(const std::string& id, const std::string& sale_id, bool restock = true,
                               const std::string& location = "") {
  v1::Envelope env = void_lines(id, sale_id, {}, restock, location);
  env.mutable_sale_voided()->set_whole_sale(true);
  return env;
}

template <typename Lines>
void add_items(Lines* lines, const std::vector<Item>& items) {
  for (const auto& i : items) {
    auto* x = lines->Add();
    x->set_sku(i.sku);
    x->set_barcode(i.barcode);
    x->set_quantity_milli(i.quantity);
  }
}

inline v1::Envelope receipt(const std::string& id, const std::string& location, const std::vector<Item>& items) {
  v1::Envelope env;
  auto* r = env.mutable_stock_received();
  r->set_receipt_id(id);
  r->set_location(location);
  add_items(r->mutable_lines(), items);
  return env;
}

inline v1::Envelope transfer(const std::string& id, const std::string& from, const std::string& to,
                             const std::vector<Item>& items) {
  v1::Envelope env;
  auto* t = env.mutable_stock_transferred();
  t->set_transfer_id(id);
  t->set_from_location(from);
  t->set_to_location(to);
  add_items(t->mutable_lines(), items);
  return env;
}

// An adjustment naming its product by sku, with neither delta nor count yet.
inline v1::Envelope adjustment(const std::string& id, const std::string& location, const std::string& sku) {
  v1::Envelope env;
  auto* a = env.mutable_stock_adjusted();
  a->set_adjustment_id(id);
  a->set_location(location);
  a->set_sku(sku);
  return env;
}

inline v1::Envelope adjust_by(const std::string& id, const std::string& location, const std::string& sku,
                              std::int64_t delta) {
  v1::Envelope env = adjustment(id, location, sku);
  env.mutable_stock_adjusted()->set_delta_milli(delta);
  return env;
}

inline v1::Envelope count(const std::string& id, const std::string& location, const std::string& sku,
                          std::int64_t counted) {
  v1::Envelope env = adjustment(id, location, sku);
  env.mutable_stock_adjusted()->set_counted_milli(counted);
  return env;
}

}  // namespace eck::test::stock
