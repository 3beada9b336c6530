// eck-inventory end to end: the real broker and the real inventory daemon on
// a test database, a random day of catalog, till and warehouse events, the
// daemon SIGKILLed three times along the way. Afterwards the ledger must be
// what an independent model of the contract (services/inventory/
// stock_events.h) computes over the journal, in journal order: every level,
// every StockLevelChanged, every BelowThreshold exactly once.
//
// The model is deliberately small and written from the contract alone; it
// shares no code with the daemon. It runs over the events in the order the
// broker journaled them (not the order they were published), because that is
// the order the daemon applies them in. The same model, run in publish order
// while generating, tells the generator what is still valid (what is left to
// void, roughly where each level stands).
//
// ECK_E2E_SEED=<n> replays another day; the seed is printed either way.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
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
#include "support/e2e.h"
#include "support/inventory_events.h"
#include "support/inventory_process.h"
#include "support/test_pg.h"

namespace eck {
namespace {

using namespace std::chrono_literals;

using test::stock::kUnit;  // quantities are thousandths
namespace stock = test::stock;
constexpr std::int64_t kMaxQuantityMilli = 1'000'000'000'000;
constexpr std::int64_t kMaxLevelMilli = 1'000'000'000'000'000;
constexpr const char* kSource = "inventory-e2e";

const std::vector<std::string> kLocations = {"STORE-1", "STORE-2", "WH-1"};

// (sku, location). A product known only by a barcode would be "#<barcode>";
// this test never makes one.
using Key = std::pair<std::string, std::string>;

std::string str(const Key& k) { return k.first + "@" + k.second; }

struct Crossing {
  std::string sku;
  std::string location;
  std::int64_t level = 0;
  std::int64_t point = 0;
  auto operator<=>(const Crossing&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Crossing& c) {
  return os << "(" << c.sku << "@" << c.location << " level " << c.level << " point " << c.point
            << ")";
}

// One level change of one event: what StockLevelChanged must say.
struct Change {
  std::uint64_t seq = 0;
  std::int64_t delta = 0;
  std::int64_t level = 0;  // after
  auto operator<=>(const Change&) const = default;
};

// --- the model ---------------------------------------------------------------------

bool valid_location(const std::string& code) {
  if (code.empty() || code.size() > 100) return false;
  for (unsigned char c : code)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

class StockModel {
 public:
  struct SaleLine {
    std::string sku;
    std::int64_t quantity = 0;   // as sold (signed, never 0 here)
    std::int64_t remaining = 0;  // |quantity| not voided yet
  };
  struct Sale {
    std::string location;
    std::map<int, SaleLine> moved;  // line_no -> lines that moved stock
  };

  // Applies one event in journal order. Returns "" when it applies, or why
  // it is rejected (then nothing changed).
  std::string apply(std::uint64_t seq, const v1::Envelope& env) {
    deltas_.clear();
    std::string why;
    switch (env.payload_case()) {
      case v1::Envelope::kProductUpserted: why = product(env.product_upserted()); break;
      case v1::Envelope::kReorderRuleSet: why = rule(env.reorder_rule_set()); break;
      case v1::Envelope::kSaleCompleted: why = sale(env.sale_completed()); break;
      case v1::Envelope::kSaleVoided: why = void_sale(env.sale_voided()); break;
      case v1::Envelope::kStockReceived: why = receipt(env, env.stock_received()); break;
      case v1::Envelope::kStockAdjusted: why = adjustment(env, env.stock_adjusted()); break;
      case v1::Envelope::kStockTransferred: why = transfer(env, env.stock_transferred()); break;
      default: return "";  // not ours: ignored
    }
    if (!why.empty()) {
      rejected_.emplace_back(seq, why);
      return why;
    }
    commit(seq);
    return "";
  }

  std::int64_t level(const Key& k) const {
    auto it = levels_.find(k);
    return it == levels_.end() ? 0 : it->second;
  }
  const std::map<Key, std::int64_t>& levels() const { return levels_; }
  // The reorder point at k, or nullopt when there is no rule.
  std::optional<std::int64_t> point(const Key& k) const {
    auto it = rules_.find(k);
    if (it == rules_.end()) return std::nullopt;
    return it->second.point;
  }
  const std::vector<Crossing>& crossings() const { return crossings_; }
  const std::map<Key, std::vector<Change>>& changes() const { return changes_; }
  const std::vector<std::pair<std::uint64_t, std::string>>& rejected() const { return rejected_; }
  const Sale* find_sale(const std::string& id) const {
    auto it = sales_.find(id);
    return it == sales_.end() ? nullptr : &it->second;
  }

 private:
  struct Rule {
    std::int64_t point = 0;
    bool armed = true;
  };

  // Product of a line: the sku wins; else the barcode's owner.
  std::string resolve(const std::string& sku, const std::string& barcode) const {
    if (!sku.empty()) return sku;
    if (barcode.empty()) return "";
    auto it = barcode_owner_.find(barcode);
    return it == barcode_owner_.end() ? "#" + barcode : it->second;
  }

  std::string move(const std::string& sku, const std::string& location, std::int64_t q) {
    if (q > kMaxQuantityMilli || q < -kMaxQuantityMilli) return "absurd quantity";
    deltas_[{sku, location}] += q;
    return "";
  }

  bool seen(const std::string& kind, const std::string& id) {
    return !documents_.insert(kind + "/" + id).second;
  }

  std::string product(const v1::ProductUpserted& p) {
    if (p.sku().empty()) return "ProductUpserted without sku";
    for (auto it = barcode_owner_.begin(); it != barcode_owner_.end();)
      it = it->second == p.sku() ? barcode_owner_.erase(it) : std::next(it);
    for (const auto& b : p.barcodes()) barcode_owner_[b] = p.sku();
    return "";
  }

  std::string rule(const v1::ReorderRuleSet& r) {
    if (r.sku().empty()) return "rule without sku";
    if (!valid_location(r.location())) return "rule without valid location";
    Key k{r.sku(), r.location()};
    auto [it, fresh] = rules_.try_emplace(k, Rule{r.reorder_point_milli(), true});
    if (!fresh) it->second.point = r.reorder_point_milli();
    evaluate(k);
    return "";
  }

  std::string sale(const v1::SaleCompleted& s) {
    if (s.sale_id().empty()) return "sale without sale_id";
    if (!valid_location(s.location())) return "sale without valid location";
    Sale rec{s.location(), {}};
    if (!s.training() && !s.abandoned()) {
      for (const auto& l : s.lines()) {
        const std::string sku = resolve(l.sku(), l.barcode());
        if (sku.empty()) return "sale line without product";
        if (l.quantity_milli() == 0) continue;
        if (auto why = move(sku, s.location(), -l.quantity_milli()); !why.empty()) return why;
        rec.moved[l.line_no()] =
            SaleLine{sku, l.quantity_milli(), std::abs(l.quantity_milli())};
      }
    }
    if (seen("sale", s.sale_id())) return "duplicate sale";
    sales_[s.sale_id()] = std::move(rec);
    return "";
  }

  std::string void_sale(const v1::SaleVoided& v) {
    if (v.void_id().empty()) return "void without void_id";
    auto sit = sales_.find(v.original_sale_id());
    if (sit == sales_.end()) return "void of an unknown sale";
    Sale& sale = sit->second;
    if (!v.location().empty() && !valid_location(v.location())) return "void with bad location";
    const std::string location = v.location().empty() ? sale.location : v.location();
    std::map<int, std::int64_t> take;  // line_no -> quantity voided
    if (sale.moved.empty()) {
      // The sale moved nothing: applied, moves nothing.
    } else if (v.whole_sale()) {
      for (const auto& [no, line] : sale.moved)
        if (line.remaining > 0) take[no] = line.remaining;
      if (take.empty()) return "nothing left to void";
    } else {
      for (const auto& vl : v.lines()) {
        auto lit = sale.moved.find(vl.line_no());
        if (lit == sale.moved.end()) return "voided line did not move stock";
        const std::int64_t left = lit->second.remaining - take[vl.line_no()];
        if (vl.quantity_milli() < 0) return "negative void quantity";
        const std::int64_t q = vl.quantity_milli() == 0 ? left : vl.quantity_milli();
        if (q == 0 || q > left) return "nothing (or not that much) left to void";
        take[vl.line_no()] += q;
      }
      if (take.empty()) return "void of no line";
    }
    if (v.restock()) {
      for (const auto& [no, q] : take) {
        const SaleLine& line = sale.moved.at(no);
        if (auto why = move(line.sku, location, line.quantity > 0 ? q : -q); !why.empty())
          return why;
      }
    }
    if (seen("void", v.void_id())) return "duplicate void";
    for (const auto& [no, q] : take) sale.moved.at(no).remaining -= q;
    return "";
  }

  std::string receipt(const v1::Envelope& env, const v1::StockReceived& r) {
    if (!valid_location(r.location())) return "receipt without valid location";
    for (const auto& l : r.lines()) {
      const std::string sku = resolve(l.sku(), l.barcode());
      if (sku.empty()) return "receipt line without product";
      if (l.quantity_milli() <= 0) return "receipt quantity not positive";
      if (auto why = move(sku, r.location(), l.quantity_milli()); !why.empty()) return why;
    }
    if (seen("receipt", r.receipt_id().empty() ? env.event_id() : r.receipt_id()))
      return "duplicate receipt";
    return "";
  }

  std::string adjustment(const v1::Envelope& env, const v1::StockAdjusted& a) {
    if (!valid_location(a.location())) return "adjustment without valid location";
    const std::string sku = resolve(a.sku(), a.barcode());
    if (sku.empty()) return "adjustment without product";
    std::int64_t delta = 0;
    if (a.change_case() == v1::StockAdjusted::kDeltaMilli) {
      if (a.delta_milli() == 0) return "zero delta";
      delta = a.delta_milli();
    } else if (a.change_case() == v1::StockAdjusted::kCountedMilli) {
      if (a.counted_milli() < 0) return "negative count";
      delta = a.counted_milli() - level({sku, a.location()});
    } else {
      return "adjustment without delta or count";
    }
    if (delta != 0)
      if (auto why = move(sku, a.location(), delta); !why.empty()) return why;
    if (seen("adjustment", a.adjustment_id().empty() ? env.event_id() : a.adjustment_id()))
      return "duplicate adjustment";
    return "";
  }

  std::string transfer(const v1::Envelope& env, const v1::StockTransferred& t) {
    if (!valid_location(t.from_location()) || !valid_location(t.to_location()))
      return "transfer without valid locations";
    if (t.from_location() == t.to_location()) return "transfer to the same location";
    for (const auto& l : t.lines()) {
      const std::string sku = resolve(l.sku(), l.barcode());
      if (sku.empty()) return "transfer line without product";
      if (l.quantity_milli() <= 0) return "transfer quantity not positive";
      if (auto why = move(sku, t.from_location(), -l.quantity_milli()); !why.empty()) return why;
      if (auto why = move(sku, t.to_location(), l.quantity_milli()); !why.empty()) return why;
    }
    if (seen("transfer", t.transfer_id().empty() ? env.event_id() : t.transfer_id()))
      return "duplicate transfer";
    return "";
  }

  // BelowThreshold when at or below an armed point (disarming it); above
  // the point re-arms it.
  void evaluate(const Key& k) {
    auto it = rules_.find(k);
    if (it == rules_.end()) return;
    const std::int64_t lv = level(k);
    if (lv > it->second.point) {
      it->second.armed = true;
    } else if (it->second.armed) {
      it->second.armed = false;
      crossings_.push_back({k.first, k.second, lv, it->second.point});
    }
  }

  // The event is valid: its net deltas land, then the levels it changed are
  // evaluated. (Documents were recorded by the handlers as they finished.)
  void commit(std::uint64_t seq) {
    for (const auto& [k, d] : deltas_) {
      if (d == 0) continue;
      const std::int64_t lv = level(k) + d;
      if (lv > kMaxLevelMilli || lv < -kMaxLevelMilli) {
        // Not generated by this test; a model that lacks rollback says so.
        ADD_FAILURE() << "model: level of " << str(k) << " would leave the limits at seq " << seq;
      }
      levels_[k] = lv;
      changes_[k].push_back({seq, d, lv});
    }
    for (const auto& [k, d] : deltas_)
      if (d != 0) evaluate(k);
  }

  std::map<std::string, std::string> barcode_owner_;
  std::set<std::string> documents_;
  std::map<std::string, Sale> sales_;
  std::map<Key, std::int64_t> levels_;
  std::map<Key, Rule> rules_;
  std::map<Key, std::int64_t> deltas_;  // of the event being applied
  std::vector<Crossing> crossings_;
  std::map<Key, std::vector<Change>> changes_;
  std::vector<std::pair<std::uint64_t, std::string>> rejected_;
};

// --- the random day ----------------------------------------------------------------

struct Product {
  std::string sku;
  std::vector<std::string> barcodes;
  bool by_weight = false;  // kg: any number of grams; else whole pieces
};

// Makes the events. Each is checked against a model run in publish order,
// so it applies (the test never publishes an event the contract rejects).
class DayGenerator {
 public:
  explicit DayGenerator(std::uint64_t seed) : rng_(seed) {
    for (int i = 0; i < 50; ++i) {
      Product p;
      p.sku = "SKU-" + std::to_string(100 + i);
      const int n = pick(1, 2);
      for (int b = 0; b < n; ++b) p.barcodes.push_back("400" + std::to_string(1000000 + i * 10 + b));
      p.by_weight = i % 7 == 3;
      products_.push_back(std::move(p));
    }
  }

  std::vector<v1::Envelope> catalog() {
    std::vector<v1::Envelope> out;
    for (const auto& p : products_) out.push_back(upsert(p.sku, p.barcodes, p.by_weight));
    for (const auto& p : products_)
      for (const auto& loc : kLocations)
        if (chance(50)) out.push_back(rule(p.sku, loc));
    return out;
  }

  // The next random event. A void comes with the event_ids that must be
  // journaled before it (its sale and earlier voids of that sale).
  v1::Envelope next(std::vector<std::string>& must_follow) {
    must_follow.clear();
    const int r = static_cast<int>(pick(0, 999));
    if (r < 5) return catalog_change();
    if (r < 10) return rule(any_product().sku, location());  // a new or changed rule
    if (r < 90 && !voidable_.empty()) return void_of_a_sale(must_follow);
    if (r < 580) return sale();
    if (r < 730) return receipt();
    if (r < 860) return adjustment();
    return transfer();
  }

  bool chance(int percent) { return pick(0, 99) < percent; }
  std::int64_t pick(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

 private:
  v1::Envelope finish(v1::Envelope env) {
    complete_envelope(env, kSource);
    const std::string why = model_.apply(++seq_, env);
    if (!why.empty()) ADD_FAILURE() << "generator made an invalid event (" << why << "): " << to_json(env);
    return env;
  }

  v1::Envelope upsert(const std::string& sku, const std::vector<std::string>& barcodes, bool by_weight) {
    v1::Envelope env = stock::product(sku, barcodes);
    auto* u = env.mutable_product_upserted();
    u->set_unit(by_weight ? "kg" : "pcs");
    *u->mutable_price() = eur(pick(99, 4999));
    return finish(std::move(env));
  }

  v1::Envelope rule(const std::string& sku, const std::string& loc) {
    v1::Envelope env = stock::rule(sku, loc, pick(2, 12) * kUnit);
    env.mutable_reorder_rule_set()->set_supplier("SUP-" + std::to_string(pick(1, 4)));
    return finish(std::move(env));
  }

  // The catalog during the day: a barcode moves to another product, a
  // product gets a new barcode instead of an old one, or a product first
  // seen at a till (NEW-*) is described.
  v1::Envelope catalog_change() {
    Product& to = products_[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(products_.size()) - 1))];
    const int kind = static_cast<int>(pick(0, 2));
    if (kind == 0) {
      std::vector<Product*> donors;
      for (auto& p : products_)
        if (&p != &to && p.barcodes.size() > 1) donors.push_back(&p);
      if (!donors.empty()) {
        Product& from = *donors[static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(donors.size()) - 1))];
        to.barcodes.push_back(from.barcodes.back());
        from.barcodes.pop_back();
      }
    } else if (kind == 1) {
      to.barcodes.back() = "401" + std::to_string(1000000 + ++new_barcodes_);
    } else {
      return upsert(unknown_sku(), {}, false);
    }
    return upsert(to.sku, to.barcodes, to.by_weight);
  }

  static v1::Money eur(std::int64_t minor) {
    v1::Money m;
    m.set_currency("EUR");
    m.set_minor(minor);
    return m;
  }

  const std::string& location() { return kLocations[pick(0, 2)]; }
  const Product& any_product() { return products_[pick(0, static_cast<std::int64_t>(products_.size()) - 1)]; }
  // A sku the catalog has not described (yet): tills and receipts still use it.
  std::string unknown_sku() { return "NEW-" + std::to_string(pick(1, 4)); }

  // Mostly a product at or near its reorder point at `loc`, else one
  // without a rule there: levels with a rule hover around their point.
  const Product& restock_candidate(const std::string& loc) {
    std::vector<const Product*> low, unruled;
    for (const auto& p : products_) {
      auto point = model_.point({p.sku, loc});
      if (!point) unruled.push_back(&p);
      else if (model_.level({p.sku, loc}) <= *point + kUnit) low.push_back(&p);
    }
    auto& from = low.empty() || (chance(30) && !unruled.empty()) ? unruled : low;
    if (from.empty()) return any_product();
    return *from[pick(0, static_cast<std::int64_t>(from.size()) - 1)];
  }

  std::int64_t quantity(const Product& p, std::int64_t lo_units, std::int64_t hi_units) {
    return p.by_weight ? pick(lo_units * kUnit / 4, hi_units * kUnit) : pick(lo_units, hi_units) * kUnit;
  }

  // Names the product as tills and scanners do: mostly by sku, sometimes by
  // barcode alone, sometimes both (rarely a barcode of another product: the
  // sku wins). Returns {sku, barcode}.
  std::pair<std::string, std::string> name(const Product& p, bool allow_mismatch) {
    const int r = static_cast<int>(pick(0, 99));
    const auto& code = p.barcodes[pick(0, static_cast<std::int64_t>(p.barcodes.size()) - 1)];
    if (r < 65) return {p.sku, ""};
    if (r < 88) return {"", code};
    if (r < 98 || !allow_mismatch) return {p.sku, code};
    return {p.sku, any_product().barcodes.front()};
  }

  stock::Item item(const Product& p, std::int64_t quantity) {
    auto [sku, barcode] = name(p, false);
    return {sku, quantity, barcode};
  }

  v1::Envelope sale() {
    const std::string id = "S-" + std::to_string(++sales_);
    std::vector<stock::Line> lines;
    const int n = static_cast<int>(pick(1, 5));
    for (int no = 1; no <= n; ++no) {
      if (chance(1)) {
        lines.push_back({no, unknown_sku(), kUnit});
        continue;
      }
      const Product& p = any_product();
      auto [sku, barcode] = name(p, true);
      const int r = static_cast<int>(pick(0, 99));
      const std::int64_t q = r < 4 ? -quantity(p, 1, 2)  // taken back within the sale
                             : r < 5 ? 0
                                     : quantity(p, 1, 3);
      lines.push_back({no, sku, q, barcode});
    }
    const std::string& loc = location();
    v1::Envelope env = stock::sale(id, loc, lines);
    auto* s = env.mutable_sale_completed();
    s->set_register_id("R-" + loc);
    s->set_cashier("C-" + std::to_string(pick(1, 6)));
    s->set_training(chance(2));
    s->set_abandoned(!s->training() && chance(1));
    std::int64_t gross = 0;
    for (auto& l : *s->mutable_lines()) {
      *l.mutable_unit_price() = eur(pick(99, 4999));
      *l.mutable_line_total() = eur(l.unit_price().minor() * l.quantity_milli() / kUnit);
      gross += l.line_total().minor();
    }
    *s->mutable_totals()->mutable_gross() = eur(gross);
    v1::Envelope done = finish(std::move(env));
    if (const auto* rec = model_.find_sale(id); rec && !rec->moved.empty()) {
      voidable_.push_back(id);
      history_[id].push_back(done.event_id());
    }
    return done;
  }

  v1::Envelope void_of_a_sale(std::vector<std::string>& must_follow) {
    // Mostly recent sales, as at a till.
    const std::size_t n = voidable_.size();
    const std::size_t i = chance(80) ? n - 1 - static_cast<std::size_t>(pick(0, std::min<std::int64_t>(n, 50) - 1))
                                     : static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(n) - 1));
    const std::string sale_id = voidable_[i];
    const StockModel::Sale& rec = *model_.find_sale(sale_id);
    std::vector<std::pair<int, std::int64_t>> left;
    for (const auto& [no, line] : rec.moved)
      if (line.remaining > 0) left.emplace_back(no, line.remaining);

    const std::string id = "V-" + std::to_string(++voids_);
    const bool restock = chance(60);
    const int where = static_cast<int>(pick(0, 99));
    const std::string loc = where < 35   ? rec.location
                            : where < 50 ? location()  // returned at another store
                                         : "";         // the sale's
    v1::Envelope env;
    if (chance(40)) {
      env = stock::void_whole(id, sale_id, restock, loc);
    } else {
      std::shuffle(left.begin(), left.end(), rng_);
      std::vector<stock::Taken> taken;
      const std::size_t lines = static_cast<std::size_t>(pick(1, static_cast<std::int64_t>(left.size())));
      for (std::size_t j = 0; j < lines; ++j) {
        const std::int64_t most = left[j].second;
        taken.push_back({left[j].first, chance(40)            ? 0  // all that remains
                                        : most % kUnit == 0 ? pick(1, most / kUnit) * kUnit
                                                            : pick(1, most)});
      }
      env = stock::void_lines(id, sale_id, taken, restock, loc);
    }
    env.mutable_sale_voided()->set_register_id("R-" + rec.location);
    env.mutable_sale_voided()->set_reason("customer changed mind");
    must_follow = history_[sale_id];
    v1::Envelope done = finish(std::move(env));
    history_[sale_id].push_back(done.event_id());
    bool anything_left = false;
    for (const auto& [no, line] : model_.find_sale(sale_id)->moved) anything_left |= line.remaining > 0;
    if (!anything_left) voidable_.erase(voidable_.begin() + static_cast<std::ptrdiff_t>(i));
    return done;
  }

  v1::Envelope receipt() {
    const std::string id = "G-" + std::to_string(++receipts_);
    const std::string& loc = location();
    std::vector<stock::Item> items;
    const int lines = static_cast<int>(pick(1, 4));
    for (int i = 0; i < lines; ++i) {
      if (chance(1)) {
        items.push_back({unknown_sku(), pick(1, 10) * kUnit});
        continue;
      }
      const Product& p = restock_candidate(loc);
      // Up to a little above the reorder point, so levels keep crossing it.
      const Key k{p.sku, loc};
      const auto point = model_.point(k);
      const std::int64_t short_by = point ? *point - model_.level(k) : 0;
      items.push_back(item(p, short_by > -kUnit ? std::max(kUnit, (short_by / kUnit + pick(1, 8)) * kUnit)
                                                : quantity(p, 1, 10)));
    }
    v1::Envelope env = stock::receipt(id, loc, items);
    env.mutable_stock_received()->set_supplier("SUP-" + std::to_string(pick(1, 4)));
    return finish(std::move(env));
  }

  v1::Envelope adjustment() {
    const std::string id = "A-" + std::to_string(++adjustments_);
    const std::string& loc = location();
    const Product& p = any_product();
    v1::Envelope env;
    if (chance(50)) {
      std::int64_t d = 0;
      while (d == 0) d = p.by_weight ? pick(-5000, 5000) : pick(-5, 5) * kUnit;
      env = stock::adjust_by(id, loc, p.sku, d);
      env.mutable_stock_adjusted()->set_reason(d < 0 ? v1::ADJUSTMENT_REASON_DAMAGE : v1::ADJUSTMENT_REASON_FOUND);
    } else {
      const std::int64_t level = model_.level({p.sku, loc});
      std::int64_t counted = 0;
      if (level >= 0 && chance(30)) counted = level;  // the count confirms the books
      else if (level >= 0) counted = std::max<std::int64_t>(0, level + pick(-3, 3) * kUnit);
      else counted = pick(0, 5) * kUnit;
      env = stock::count(id, loc, p.sku, counted);
      env.mutable_stock_adjusted()->set_reason(v1::ADJUSTMENT_REASON_COUNT_CORRECTION);
    }
    if (chance(15)) {  // scanned instead
      env.mutable_stock_adjusted()->clear_sku();
      env.mutable_stock_adjusted()->set_barcode(p.barcodes.back());
    }
    return finish(std::move(env));
  }

  v1::Envelope transfer() {
    const std::string id = "T-" + std::to_string(++transfers_);
    const std::int64_t from = pick(0, 2);
    const std::int64_t to = (from + pick(1, 2)) % 3;
    std::vector<stock::Item> items;
    const int lines = static_cast<int>(pick(1, 3));
    for (int i = 0; i < lines; ++i) {
      const Product& p = any_product();
      items.push_back(item(p, quantity(p, 1, 5)));
    }
    return finish(stock::transfer(id, kLocations[from], kLocations[to], items));
  }

  std::mt19937_64 rng_;
  std::vector<Product> products_;
  StockModel model_;  // in publish order
  std::uint64_t seq_ = 0;
  std::vector<std::string> voidable_;                          // sale ids with something left
  std::map<std::string, std::vector<std::string>> history_;    // sale id -> its event_ids
  int sales_ = 0, voids_ = 0, receipts_ = 0, adjustments_ = 0, transfers_ = 0, new_barcodes_ = 0;
};

// --- reading back ------------------------------------------------------------------

struct Journaled {
  std::uint64_t seq = 0;
  std::string topic;
  v1::Envelope env;
};

std::vector<Journaled> read_journal(pqxx::connection& c, const std::string& where) {
  pqxx::nontransaction tx(c);
  std::vector<Journaled> out;
  for (const auto& row : tx.exec("SELECT seq, topic, envelope FROM broker.journal WHERE " + where +
                                 " ORDER BY seq")) {
    Journaled j;
    j.seq = row[0].as<std::uint64_t>();
    j.topic = row[1].as<std::string>();
    if (!j.env.ParseFromString(pqxx::binarystring(row[2]).str()))
      ADD_FAILURE() << "journal seq " << j.seq << " does not decode";
    out.push_back(std::move(j));
  }
  return out;
}

std::string key_sku(const std::string& sku, const std::string& barcode) {
  return sku.empty() ? "#" + barcode : sku;
}

// How far eck-inventory got (see support/e2e.h).
test::ConsumerProgress progress(pqxx::connection& su) {
  return test::consumer_progress(su, "inventory", "inventory");
}

// --- the test ----------------------------------------------------------------------

TEST(InventoryE2E, RandomDayMatchesModel) {
  std::uint64_t seed = 20240611;
  if (const char* s = std::getenv("ECK_E2E_SEED"); s != nullptr && *s != '\0') seed = std::stoull(s);
  std::cout << "inventory e2e seed " << seed << " (ECK_E2E_SEED=" << seed << " to replay)\n";
  RecordProperty("seed", std::to_string(seed));
  const auto started = std::chrono::steady_clock::now();

  test::TestDatabase db;
  db.provision();
  test::BrokerProcess broker(db.url_as("eck_broker"));
  broker.start();
  test::InventoryProcess inventory(db.url_as("eck_inventory"), broker.bus());
  inventory.start();

  pqxx::connection su(db.url());
  PublisherOptions po;
  po.endpoint = broker.ingest();
  po.window = 200;
  po.ack_timeout = 10s;  // a retry could reorder: only on real trouble
  po.source = kSource;
  Publisher pub(po);
  test::PublishAcks acks;
  DayGenerator gen(seed);
  std::vector<v1::Envelope> published;  // distinct events, in publish order

  // The catalog first, and journaled before anything names its products.
  for (auto& env : gen.catalog()) {
    published.push_back(env);
    pub.publish(env, acks.callback());
  }
  ASSERT_TRUE(pub.flush(60s));
  ASSERT_TRUE(acks.errors().empty()) << acks.errors().front();

  constexpr int kEvents = 10000;
  const std::size_t catalog_events = published.size();
  const std::set<int> kill_at = {2500, 5000, 7500};
  int restart_at = -1;
  int republished = 0;
  std::vector<std::string> must_follow;
  for (int i = 1; i <= kEvents; ++i) {
    v1::Envelope env = gen.next(must_follow);
    // A void is only valid after its sale (and earlier voids): wait for
    // their acks so the journal has them first whatever the publisher does.
    for (const auto& id : must_follow)
      ASSERT_TRUE(test::wait_until([&] { return acks.acked(id); }, 60s)) << "no ack for " << id;
    published.push_back(env);
    pub.publish(env, acks.callback());
    if (gen.chance(2)) {  // a producer retrying: the same event_id again
      const auto& again = published[catalog_events +
                                    static_cast<std::size_t>(gen.pick(0, static_cast<std::int64_t>(published.size() - catalog_events) - 1))];
      pub.publish(again, acks.callback());
      ++republished;
    }
    if (kill_at.contains(i)) {
      ASSERT_TRUE(test::wait_until([&] { return acks.answered() >= catalog_events + static_cast<std::size_t>(i); }, 60s));
      // Publishing outruns the daemon: let it commit a good part of what is
      // there (some batches, some relaying) so the kill lands mid-stream,
      // not in its first transaction after a start.
      const std::int64_t target = progress(su).head * gen.pick(40, 70) / 100;
      ASSERT_TRUE(test::wait_until([&] { return progress(su).position >= target; }, 60s, 50ms))
          << "eck-inventory makes no progress: " << progress(su);
      inventory.kill(SIGKILL);
      std::cout << "SIGKILL after " << i << " events: " << progress(su) << "\n";
      restart_at = i + 300;  // events keep coming while it is down
    }
    if (i == restart_at) inventory.start();
  }
  ASSERT_TRUE(pub.flush(120s)) << "publisher did not drain";
  {
    auto errors = acks.errors();
    ASSERT_TRUE(errors.empty()) << errors.size() << " NACKs, first: " << errors.front();
  }
  const auto published_at = std::chrono::steady_clock::now();
  std::cout << "published " << published.size() << " events (" << republished << " republished) in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(published_at - started).count()
            << " ms\n";

  // Wait until the daemon has considered the whole journal and relayed
  // everything it produced (each relayed event moves the head, so both in
  // one look).
  const bool done = test::wait_until([&] { return progress(su).done(); }, 120s, 100ms);
  ASSERT_TRUE(done) << "the daemon did not catch up within 120 s: " << progress(su) << "; log tail:\n"
                    << test::log_tail(inventory.log());
  {
    pqxx::nontransaction tx(su);
    auto r = tx.exec("SELECT topic, rejected FROM inventory.outbox WHERE acked_seq IS NULL LIMIT 5");
    for (const auto& row : r)
      ADD_FAILURE() << "outbox row never acknowledged: " << row[0].as<std::string>() << " rejected: "
                    << row[1].as<std::string>("");
  }
  std::cout << "caught up "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - published_at).count()
            << " ms after the last ack\n";

  // The model, over the journal in journal order.
  const auto input = read_journal(su, "topic NOT LIKE 'inventory.%'");
  ASSERT_EQ(input.size(), published.size()) << "every distinct event journaled once";
  StockModel model;
  std::map<std::uint64_t, const Journaled*> by_seq;
  for (const auto& j : input) {
    by_seq[j.seq] = &j;
    model.apply(j.seq, j.env);
  }
  for (const auto& [seq, why] : model.rejected())
    ADD_FAILURE() << "the model rejects seq " << seq << " (" << why << "): " << to_json(by_seq[seq]->env);

  // Dead letters: none (every event was valid).
  {
    pqxx::nontransaction tx(su);
    auto rows = tx.exec("SELECT seq, topic, reason FROM inventory.dead_letter ORDER BY seq LIMIT 20");
    for (const auto& row : rows) {
      const auto seq = row[0].as<std::uint64_t>();
      ADD_FAILURE() << "dead letter seq " << seq << " " << row[1].as<std::string>() << ": "
                    << row[2].as<std::string>() << "\n  event: "
                    << (by_seq.contains(seq) ? to_json(by_seq[seq]->env) : "?");
    }
  }

  // What the daemon said: StockLevelChanged and BelowThreshold.
  const auto output = read_journal(su, "topic LIKE 'inventory.%'");
  std::map<Key, std::vector<Change>> said;
  std::map<Key, std::vector<std::uint64_t>> causes;  // every cause_seq, per level
  std::vector<Crossing> below;
  int zero_deltas = 0;
  for (const auto& j : output) {
    if (j.env.has_stock_level_changed()) {
      const auto& c = j.env.stock_level_changed();
      causes[{key_sku(c.sku(), c.barcode()), c.location()}].push_back(c.cause_seq());
      if (c.delta_milli() == 0) {
        ++zero_deltas;
        continue;
      }
      said[{key_sku(c.sku(), c.barcode()), c.location()}].push_back({c.cause_seq(), c.delta_milli(), c.level_milli()});
    } else if (j.env.has_below_threshold()) {
      const auto& b = j.env.below_threshold();
      below.push_back({key_sku(b.sku(), b.barcode()), b.location(), b.level_milli(), b.reorder_point_milli()});
    }
  }
  std::cout << output.size() << " events from the daemon, " << below.size() << " BelowThreshold\n";
  EXPECT_EQ(zero_deltas, 0) << "StockLevelChanged with delta 0 (a level the event did not change)";

  // Exactly one StockLevelChanged per event and level it changed, with the
  // level after and the net delta: none twice (no double application).
  {
    int reported = 0;
    for (auto& [k, seqs] : causes) {
      std::sort(seqs.begin(), seqs.end());
      for (std::size_t i = 1; i < seqs.size(); ++i)
        if (seqs[i] == seqs[i - 1] && reported++ < 10)
          ADD_FAILURE() << "two StockLevelChanged for " << str(k) << " caused by seq " << seqs[i]
                        << ": " << (by_seq.contains(seqs[i]) ? to_json(by_seq[seqs[i]]->env) : "?");
    }
    for (auto& [k, changes] : said) std::sort(changes.begin(), changes.end());
    // Per level, the first event where daemon and model part ways.
    auto describe = [](const std::vector<Change>& v, std::uint64_t seq) {
      std::string out;
      for (const auto& c : v)
        if (c.seq == seq)
          out += (out.empty() ? "" : "; ") + std::string("delta ") + std::to_string(c.delta) + ", level " +
                 std::to_string(c.level);
      return out.empty() ? std::string("no StockLevelChanged") : out;
    };
    std::set<Key> keys;
    for (const auto& [k, v] : said) keys.insert(k);
    for (const auto& [k, v] : model.changes()) keys.insert(k);
    int differing = 0;
    for (const auto& k : keys) {
      static const std::vector<Change> none;
      const auto& want = model.changes().contains(k) ? model.changes().at(k) : none;
      const auto& got = said.contains(k) ? said.at(k) : none;
      if (want == got) continue;
      ++differing;
      std::size_t i = 0;
      while (i < want.size() && i < got.size() && want[i] == got[i]) ++i;
      const std::uint64_t seq = i >= want.size()  ? got[i].seq
                                : i >= got.size() ? want[i].seq
                                                  : std::min(want[i].seq, got[i].seq);
      if (reported++ < 10)
        ADD_FAILURE() << "StockLevelChanged of " << str(k) << " part from the model at seq " << seq
                      << "\n  model:  " << describe(want, seq) << "\n  daemon: " << describe(got, seq)
                      << "\n  event:  " << (by_seq.contains(seq) ? to_json(by_seq[seq]->env) : "?");
    }
    EXPECT_EQ(differing, 0) << "levels whose StockLevelChanged differ from the model";
  }

  // Every level equals the model; no level missing or extra.
  {
    pqxx::nontransaction tx(su);
    std::map<Key, std::int64_t> levels;
    for (const auto& row : tx.exec(
             "SELECT coalesce(p.sku, '#' || (SELECT min(barcode) FROM inventory.product_barcode b"
             " WHERE b.product_id = p.id)), l.code, s.level_milli"
             " FROM inventory.stock_level s JOIN inventory.product p ON p.id = s.product_id"
             " JOIN inventory.location l ON l.id = s.location_id"))
      levels[{row[0].as<std::string>(), row[1].as<std::string>()}] = row[2].as<std::int64_t>();
    int wrong = 0;
    for (const auto& [k, lv] : levels)
      if (lv != model.level(k) && wrong++ < 20)
        ADD_FAILURE() << "level of " << str(k) << ": daemon " << lv << ", model " << model.level(k);
    for (const auto& [k, lv] : model.levels())
      if (lv != 0 && !levels.contains(k) && wrong++ < 20)
        ADD_FAILURE() << "level of " << str(k) << " missing: model " << lv;
    EXPECT_EQ(wrong, 0);
    std::cout << levels.size() << " levels, " << model.crossings().size() << " crossings\n";
  }

  // Every BelowThreshold the contract asks for, each exactly once.
  {
    std::vector<Crossing> want = model.crossings();
    std::sort(want.begin(), want.end());
    std::sort(below.begin(), below.end());
    std::vector<Crossing> missing, extra;
    std::set_difference(want.begin(), want.end(), below.begin(), below.end(), std::back_inserter(missing));
    std::set_difference(below.begin(), below.end(), want.begin(), want.end(), std::back_inserter(extra));
    EXPECT_EQ(below.size(), want.size()) << "BelowThreshold: daemon vs model";
    for (std::size_t i = 0; i < missing.size() && i < 10; ++i)
      ADD_FAILURE() << "BelowThreshold missing: " << missing[i];
    for (std::size_t i = 0; i < extra.size() && i < 10; ++i)
      ADD_FAILURE() << "BelowThreshold not in the model (or once too often): " << extra[i];
  }

  // The daemon's own consistency check agrees.
  auto check = inventory.run_command({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  const int status = inventory.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "SIGTERM: eck-inventory " << test::ChildProcess::describe_status(status) << "; log tail:\n"
      << test::log_tail(inventory.log());
  std::cout << "total "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count()
            << " ms\n";
}

}  // namespace
}  // namespace eck
