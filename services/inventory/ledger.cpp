#include "ledger.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "eck/consumer.h"  // Rejected
#include "eck/outbox.h"
#include "eck/sql_array.h"

namespace eck::inventory {

namespace {

// Caches are dropped after a flush once they grow past this (a shop with
// tens of thousands of products stays well below it; memory stays bounded).
constexpr std::size_t kMaxCachedLevels = 200'000;
constexpr std::size_t kMaxCachedProducts = 200'000;

// Codes (locations, skus, barcodes) are printed in reports and logs and
// compared byte for byte: no control characters, bounded length.
bool valid_code(const std::string& s, std::size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string shown(const std::string& s) { return s.size() > 64 ? s.substr(0, 64) + "..." : s; }

}  // namespace

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::kSale: return "sale";
    case Reason::kSaleReturn: return "sale_return";
    case Reason::kVoid: return "void";
    case Reason::kReceipt: return "receipt";
    case Reason::kAdjustment: return "adjustment";
    case Reason::kCount: return "count";
    case Reason::kTransferOut: return "transfer_out";
    case Reason::kTransferIn: return "transfer_in";
    case Reason::kMergeOut: return "merge_out";
    case Reason::kMergeIn: return "merge_in";
  }
  return "?";
}

Ledger::Ledger(std::string source) : source_(std::move(source)) {}

pqxx::work& Ledger::tx() {
  if (!tx_) throw std::logic_error("inventory ledger used outside an event");
  return *tx_;
}

void Ledger::begin_event(pqxx::work& tx, const Event& ev) {
  tx_ = &tx;
  ev_ = &ev;
  touched_.clear();
}

// ---- lookups -------------------------------------------------------------

LocationId Ledger::location(const std::string& code) {
  if (auto it = by_code_.find(code); it != by_code_.end()) return it->second;
  if (!valid_code(code, 100)) {
    throw Rejected(code.empty() ? "no location given"
                                : "location '" + shown(code) +
                                      "' is not a valid code (1 to 100 bytes, no control characters)");
  }
  auto r = tx().exec_params("SELECT id FROM location WHERE code = $1", code);
  LocationId id;
  if (!r.empty()) {
    id = r[0][0].as<LocationId>();
  } else {
    id = tx().exec_params1("INSERT INTO location (code, first_seq) VALUES ($1, $2) RETURNING id",
                           code, ev_->seq)[0]
             .as<LocationId>();
    spdlog::info("new location '{}' (first named by event {})", code, ev_->seq);
  }
  by_code_[code] = id;
  codes_[id] = code;
  return id;
}

const std::string& Ledger::location_code(LocationId l) {
  if (auto it = codes_.find(l); it != codes_.end()) return it->second;
  auto code = tx().exec_params1("SELECT code FROM location WHERE id = $1", l)[0].as<std::string>();
  by_code_[code] = l;
  return codes_[l] = code;
}

std::optional<ProductId> Ledger::find_by_sku(const std::string& sku) {
  if (auto it = by_sku_.find(sku); it != by_sku_.end()) return it->second;
  auto r = tx().exec_params("SELECT id FROM product WHERE sku = $1", sku);
  if (r.empty()) return std::nullopt;
  const auto id = r[0][0].as<ProductId>();
  by_sku_[sku] = id;
  products_[id] = ProductInfo{sku, {}};
  return id;
}

std::optional<ProductId> Ledger::find_by_barcode(const std::string& barcode) {
  if (auto it = by_barcode_.find(barcode); it != by_barcode_.end()) return it->second;
  auto r = tx().exec_params(
      "SELECT p.id, coalesce(p.sku, '') FROM product_barcode b JOIN product p ON p.id = b.product_id"
      " WHERE b.barcode = $1",
      barcode);
  if (r.empty()) return std::nullopt;
  const auto id = r[0][0].as<ProductId>();
  auto sku = r[0][1].as<std::string>();
  by_barcode_[barcode] = id;
  if (!products_.count(id)) products_[id] = ProductInfo{sku, sku.empty() ? barcode : ""};
  return id;
}

ProductId Ledger::product(const std::string& sku, const std::string& barcode, const char* origin) {
  if (!sku.empty()) {
    if (!valid_code(sku, 200)) {
      throw Rejected("sku '" + shown(sku) + "' is not valid (1 to 200 bytes, no control characters)");
    }
    if (auto id = find_by_sku(sku)) return *id;
    return create_unknown(sku, "", origin);
  }
  if (!barcode.empty()) {
    if (!valid_code(barcode, 100)) {
      throw Rejected("barcode '" + shown(barcode) +
                     "' is not valid (1 to 100 bytes, no control characters)");
    }
    if (auto id = find_by_barcode(barcode)) return *id;
    return create_unknown("", barcode, origin);
  }
  throw Rejected("names neither a sku nor a barcode");
}

ProductId Ledger::create_unknown(const std::string& sku, const std::string& barcode,
                                 const char* origin) {
  const auto id = tx().exec_params1(
                          "INSERT INTO product (sku, created_seq, unknown_since_seq, unknown_origin)"
                          " VALUES (NULLIF($1, ''), $2, $2, $3) RETURNING id",
                          sku, ev_->seq, origin)[0]
                      .as<ProductId>();
  if (!barcode.empty()) {
    tx().exec_params0("INSERT INTO product_barcode (barcode, product_id) VALUES ($1, $2)", barcode, id);
    by_barcode_[barcode] = id;
  } else {
    by_sku_[sku] = id;
  }
  products_[id] = ProductInfo{sku, barcode};
  spdlog::warn("unknown product {} '{}' created by a {} (event {}); listed by `eck-inventory unknown`",
               sku.empty() ? "barcode" : "sku", sku.empty() ? barcode : sku, origin, ev_->seq);
  return id;
}

const Ledger::ProductInfo& Ledger::product_info(ProductId p) {
  if (auto it = products_.find(p); it != products_.end()) return it->second;
  auto row = tx().exec_params1(
      "SELECT coalesce(sku, ''),"
      " coalesce((SELECT min(barcode) FROM product_barcode WHERE product_id = p.id), '')"
      " FROM product p WHERE id = $1",
      p);
  ProductInfo info{row[0].as<std::string>(), row[1].as<std::string>()};
  if (!info.sku.empty()) info.barcode.clear();
  return products_[p] = info;
}

Ledger::LevelState& Ledger::state(ProductId p, LocationId l) {
  const Key k{p, l};
  if (auto it = levels_.find(k); it != levels_.end()) return it->second;
  auto row = tx().exec_params1(
      "SELECT s.level_milli, s.updated_seq, r.point_milli, r.armed, r.set_seq"
      " FROM (SELECT $1::bigint AS p, $2::integer AS l) k"
      " LEFT JOIN stock_level s ON s.product_id = k.p AND s.location_id = k.l"
      " LEFT JOIN reorder_point r ON r.product_id = k.p AND r.location_id = k.l",
      p, l);
  LevelState s;
  if (!row[0].is_null()) {
    s.level = row[0].as<std::int64_t>();
    s.updated_seq = row[1].as<std::uint64_t>();
  }
  if (!row[2].is_null()) {
    s.point = row[2].as<std::int64_t>();
    s.armed = row[3].as<bool>();
    s.point_seq = row[4].as<std::uint64_t>();
  }
  return levels_.emplace(k, s).first->second;
}

std::int64_t Ledger::level(ProductId p, LocationId l) { return state(p, l).level; }

// ---- changes -------------------------------------------------------------

void Ledger::touch(const Key& k) {
  if (std::find(touched_.begin(), touched_.end(), k) == touched_.end()) touched_.push_back(k);
}

void Ledger::move(ProductId p, LocationId l, std::int64_t quantity_milli, Reason reason,
                  std::string_view reference, int line_no) {
  if (quantity_milli == 0) return;
  LevelState& s = state(p, l);
  // Both are bounded far below int64 limits, so the sum cannot overflow.
  const std::int64_t after = s.level + quantity_milli;
  if (after > kMaxLevelMilli || after < -kMaxLevelMilli) {
    throw Rejected(fmt::format("level of {} at {} would become {} thousandths: absurd",
                               product_info(p).sku.empty() ? product_info(p).barcode : product_info(p).sku,
                               location_code(l), after));
  }
  s.level = after;
  s.event_delta += quantity_milli;
  s.updated_seq = ev_->seq;
  dirty_levels_.insert({p, l});
  touch({p, l});
  movements_.add(ev_->seq, ev_->envelope.event_id(), p, l, quantity_milli, reason_name(reason),
                 reference, line_no, after);
}

void Ledger::set_reorder_point(ProductId p, LocationId l, std::int64_t point_milli) {
  LevelState& s = state(p, l);
  if (!s.point) s.armed = true;  // a new rule starts armed
  s.point = point_milli;
  s.point_seq = ev_->seq;
  dirty_points_.insert({p, l});
  touch({p, l});
}

void Ledger::end_event() {
  for (const Key& k : touched_) {
    LevelState& s = levels_.at(k);
    const ProductInfo& info = product_info(k.first);
    const std::string& code = location_code(k.second);
    if (s.event_delta != 0) {
      v1::Envelope env;
      auto* m = env.mutable_stock_level_changed();
      m->set_sku(info.sku);
      m->set_barcode(info.barcode);
      m->set_location(code);
      m->set_level_milli(s.level);
      m->set_delta_milli(s.event_delta);
      m->set_cause_seq(ev_->seq);
      m->set_cause_event_id(ev_->envelope.event_id());
      produce(std::move(env));
      s.event_delta = 0;
    }
    if (!s.point) continue;
    if (s.level <= *s.point && s.armed) {
      v1::Envelope env;
      auto* b = env.mutable_below_threshold();
      b->set_sku(info.sku);
      b->set_barcode(info.barcode);
      b->set_location(code);
      b->set_level_milli(s.level);
      b->set_reorder_point_milli(*s.point);
      produce(std::move(env));
      s.armed = false;
      dirty_points_.insert(k);
    } else if (s.level > *s.point && !s.armed) {
      s.armed = true;
      dirty_points_.insert(k);
    }
  }
  touched_.clear();
}

void Ledger::produce(v1::Envelope env) {
  const auto& cause = ev_->envelope;
  env.set_causation_id(cause.event_id());
  env.set_correlation_id(cause.correlation_id().empty() ? cause.event_id() : cause.correlation_id());
  if (env.has_stock_level_changed()) env.set_subject(env.stock_level_changed().sku());
  if (env.has_below_threshold()) env.set_subject(env.below_threshold().sku());
  produced_.push_back(std::move(env));
}

// ---- catalog -------------------------------------------------------------

void Ledger::upsert_product(const v1::ProductUpserted& up) {
  const std::string& sku = up.sku();
  if (!valid_code(sku, 200)) {
    throw Rejected(sku.empty() ? "product has no sku"
                               : "sku '" + shown(sku) + "' is not valid (1 to 200 bytes, no control characters)");
  }
  std::vector<std::string> barcodes;
  for (const auto& b : up.barcodes()) {
    if (!valid_code(b, 100)) {
      throw Rejected("barcode '" + shown(b) + "' of " + sku +
                     " is not valid (1 to 100 bytes, no control characters)");
    }
    if (std::find(barcodes.begin(), barcodes.end(), b) == barcodes.end()) barcodes.push_back(b);
  }

  std::optional<ProductId> id = find_by_sku(sku);
  if (!id) {
    // A till may have sold it by barcode before the catalog described it:
    // that unknown product becomes this one, stock and history included.
    for (const auto& b : barcodes) {
      auto r = tx().exec_params(
          "SELECT p.id FROM product_barcode b JOIN product p ON p.id = b.product_id"
          " WHERE b.barcode = $1 AND p.sku IS NULL AND p.merged_into IS NULL",
          b);
      if (r.empty()) continue;
      id = r[0][0].as<ProductId>();
      tx().exec_params0("UPDATE product SET sku = $2 WHERE id = $1", *id, sku);
      products_[*id] = ProductInfo{sku, ""};
      by_sku_[sku] = *id;
      spdlog::info("unknown product with barcode {} adopted as sku {}", b, sku);
      break;
    }
  }
  if (!id) {
    id = tx().exec_params1("INSERT INTO product (sku, created_seq) VALUES ($1, $2) RETURNING id", sku,
                           ev_->seq)[0]
             .as<ProductId>();
  }
  tx().exec_params0(
      "UPDATE product SET name = $2, unit = $3, discontinued = $4, catalog_seq = $5,"
      " unknown_since_seq = NULL, unknown_origin = NULL WHERE id = $1",
      *id, up.name(), up.unit(), up.discontinued(), ev_->seq);

  // Whole upsert: the barcodes are exactly the ones given.
  auto held = tx().exec_params("SELECT barcode FROM product_barcode WHERE product_id = $1", *id);
  for (const auto& row : held) {
    auto b = row[0].as<std::string>();
    if (std::find(barcodes.begin(), barcodes.end(), b) == barcodes.end()) {
      tx().exec_params0("DELETE FROM product_barcode WHERE barcode = $1", b);
    }
  }
  for (const auto& b : barcodes) claim_barcode(*id, sku, b);
  // Names of products merged away now: their StockLevelChanged (produced at
  // the end of this event) must still say which barcode they were.
  std::vector<std::pair<ProductId, ProductInfo>> merged;
  for (ProductId p : merged_now_) merged.emplace_back(p, products_.at(p));
  merged_now_.clear();
  forget_products();
  for (auto& [p, info] : merged) products_[p] = std::move(info);
}

void Ledger::claim_barcode(ProductId p, const std::string& sku, const std::string& barcode) {
  auto r = tx().exec_params(
      "SELECT b.product_id, p.sku IS NULL FROM product_barcode b JOIN product p ON p.id = b.product_id"
      " WHERE b.barcode = $1",
      barcode);
  if (r.empty()) {
    tx().exec_params0("INSERT INTO product_barcode (barcode, product_id) VALUES ($1, $2)", barcode, p);
    return;
  }
  const auto holder = r[0][0].as<ProductId>();
  if (holder == p) return;
  if (r[0][1].as<bool>()) {
    merge_product(holder, p);
  } else {
    spdlog::warn("barcode {} moves to sku {} (held by product #{} before)", barcode, sku, holder);
  }
  tx().exec_params0("UPDATE product_barcode SET product_id = $2 WHERE barcode = $1", barcode, p);
}

// An unknown barcode-only product turned out to be `into`: its stock moves
// over with a pair of movements per location, so both ledgers stay whole.
void Ledger::merge_product(ProductId from, ProductId into) {
  std::set<LocationId> where;
  for (const auto& row :
       tx().exec_params("SELECT location_id FROM stock_level WHERE product_id = $1", from)) {
    where.insert(row[0].as<LocationId>());
  }
  for (const auto& [k, s] : levels_) {
    if (k.first == from) where.insert(k.second);
  }
  product_info(from);  // remember its barcode before it moves
  merged_now_.push_back(from);
  const std::string reference = product_info(into).sku;
  for (LocationId l : where) {
    const std::int64_t q = state(from, l).level;
    move(from, l, -q, Reason::kMergeOut, reference, 0);
    move(into, l, q, Reason::kMergeIn, reference, 0);
  }
  tx().exec_params0("UPDATE product SET merged_into = $2 WHERE id = $1", from, into);
  spdlog::info("unknown product #{} merged into sku {} ({} location(s))", from, reference,
               where.size());
}

void Ledger::forget_products() {
  by_sku_.clear();
  by_barcode_.clear();
  products_.clear();
}

// ---- documents and voids ------------------------------------------------

void Ledger::claim_document(const char* kind, const std::string& id) {
  claims_.claim(kind, id);
  documents_.add(kind, id, ev_->seq, ev_->envelope.event_id());
}

bool Ledger::document_applied(const char* kind, const std::string& id) {
  if (claims_.claimed(kind, id)) return true;
  return !tx().exec_params("SELECT 1 FROM applied_document WHERE kind = $1 AND doc_id = $2", kind, id)
              .empty();
}

std::vector<SaleLineState> Ledger::sale_lines(const std::string& sale_id) {
  flush(tx());
  std::vector<SaleLineState> lines;
  for (const auto& row : tx().exec_params(
           // A product merged since the sale: its stock lives on in the
           // product it was merged into, and so do returns.
           "SELECT m.line_no, coalesce(p.merged_into, m.product_id), m.location_id, -m.quantity_milli"
           " FROM movement m JOIN product p ON p.id = m.product_id"
           " WHERE m.reference = $1 AND m.reason IN ('sale', 'sale_return') ORDER BY m.line_no",
           sale_id)) {
    lines.push_back(SaleLineState{row[0].as<int>(), row[1].as<ProductId>(),
                                  row[2].as<LocationId>(), row[3].as<std::int64_t>(), 0});
  }
  for (const auto& row : tx().exec_params(
           "SELECT line_no, sum(quantity_milli) FROM void_line WHERE sale_id = $1 GROUP BY line_no",
           sale_id)) {
    const int n = row[0].as<int>();
    for (auto& l : lines) {
      if (l.line_no == n) l.voided_milli = row[1].as<std::int64_t>();
    }
  }
  return lines;
}

void Ledger::record_void_line(const std::string& void_id, const std::string& sale_id, int line_no,
                              std::int64_t quantity_milli, bool restocked) {
  tx().exec_params0(
      "INSERT INTO void_line (void_id, sale_id, line_no, quantity_milli, restocked, seq)"
      " VALUES ($1, $2, $3, $4, $5, $6)",
      void_id, sale_id, line_no, quantity_milli, restocked, ev_->seq);
}

// ---- transaction boundaries ---------------------------------------------

void Ledger::flush(pqxx::work& tx) {
  claims_.write([&] { documents_.flush(tx); });
  movements_.flush(tx);

  if (!dirty_levels_.empty()) {
    std::vector<ProductId> p;
    std::vector<LocationId> l;
    std::vector<std::int64_t> level;
    std::vector<std::uint64_t> seq;
    for (const Key& k : dirty_levels_) {
      const LevelState& s = levels_.at(k);
      p.push_back(k.first);
      l.push_back(k.second);
      level.push_back(s.level);
      seq.push_back(s.updated_seq);
    }
    tx.exec_params0(
        "INSERT INTO stock_level (product_id, location_id, level_milli, updated_seq)"
        " SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[])"
        " ON CONFLICT (product_id, location_id) DO UPDATE"
        " SET level_milli = EXCLUDED.level_milli, updated_seq = EXCLUDED.updated_seq",
        sql_array(p), sql_array(l), sql_array(level), sql_array(seq));
    dirty_levels_.clear();
  }

  if (!dirty_points_.empty()) {
    std::vector<ProductId> p;
    std::vector<LocationId> l;
    std::vector<std::int64_t> point;
    std::vector<bool> armed;
    std::vector<std::uint64_t> seq;
    for (const Key& k : dirty_points_) {
      const LevelState& s = levels_.at(k);
      p.push_back(k.first);
      l.push_back(k.second);
      point.push_back(*s.point);
      armed.push_back(s.armed);
      seq.push_back(s.point_seq);
    }
    tx.exec_params0(
        "INSERT INTO reorder_point (product_id, location_id, point_milli, armed, set_seq)"
        " SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::boolean[], $5::bigint[])"
        " ON CONFLICT (product_id, location_id) DO UPDATE SET point_milli = EXCLUDED.point_milli,"
        " armed = EXCLUDED.armed, set_seq = EXCLUDED.set_seq",
        sql_array(p), sql_array(l), sql_array(point), sql_array(armed), sql_array(seq));
    dirty_points_.clear();
  }

  if (!produced_.empty()) {
    outbox_enqueue_all(tx, produced_, source_);
    produced_.clear();
  }

  if (levels_.size() > kMaxCachedLevels) levels_.clear();
  if (products_.size() > kMaxCachedProducts) forget_products();
}

void Ledger::discard() {
  tx_ = nullptr;
  ev_ = nullptr;
  levels_.clear();
  forget_products();
  by_code_.clear();
  codes_.clear();
  merged_now_.clear();
  touched_.clear();
  movements_.clear();
  documents_.clear();
  claims_.reset();
  dirty_levels_.clear();
  dirty_points_.clear();
  produced_.clear();
}

}  // namespace eck::inventory
