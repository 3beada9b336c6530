// Ledger: the stock ledger's working set inside the consumer's transactions.
//
// The rules (what an event does to stock) live in stock_events.cpp; the
// Ledger is how they reach the database cheaply and correctly:
// - lookups (product, location, level, reorder point) go to the database
//   once and are then served from memory;
// - movements, levels, reorder-point states, applied documents and the
//   produced events are buffered and written by flush() in a handful of
//   statements (COPY and array upserts) however many events the transaction
//   holds. The consumer calls flush() just before it stores its position
//   (eck::TransactionHooks::before_commit), so effects and position commit
//   together;
// - discard() forgets everything (buffers and caches) when a transaction did
//   not commit (TransactionHooks::after_rollback).
//
// Why caches may outlive a commit: eck-inventory is the only writer of its
// schema, and the consumer discards (after_rollback) whenever another
// instance moved the position, the only way another writer shows.
//
// Not thread-safe; one Ledger per consumer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "eck/copy_buffer.h"
#include "eck/duplicate_guard.h"
#include "eck/follower.h"  // Event
#include "eck/v1/envelope.pb.h"

namespace eck::inventory {

// Beyond these, a quantity or level is absurd (stock_events.h).
constexpr std::int64_t kMaxQuantityMilli = 1'000'000'000'000;     // a billion units
constexpr std::int64_t kMaxLevelMilli = 1'000'000'000'000'000;    // a trillion units

using ProductId = std::int64_t;
using LocationId = std::int32_t;

enum class Reason {
  kSale,
  kSaleReturn,
  kVoid,
  kReceipt,
  kAdjustment,
  kCount,
  kTransferOut,
  kTransferIn,
  kMergeOut,
  kMergeIn,
};
// As stored in movement.reason ("sale", "transfer_out", ...).
const char* reason_name(Reason r);

// A line of an earlier sale that moved stock, with what voids took back.
struct SaleLineState {
  int line_no = 0;
  ProductId product = 0;
  LocationId location = 0;
  std::int64_t sold_milli = 0;    // signed as sold: > 0 sold, < 0 taken back
  std::int64_t voided_milli = 0;  // same sign, what earlier voids took back
};

class Ledger {
 public:
  // `source` goes into produced envelopes ("eck-inventory").
  explicit Ledger(std::string source);

  // Brackets the handling of one event inside `tx`. end_event() produces
  // StockLevelChanged / BelowThreshold for what the event changed.
  void begin_event(pqxx::work& tx, const Event& ev);
  void end_event();

  // --- lookups (create what is missing) --------------------------------
  // Throws Rejected for an empty or invalid code.
  LocationId location(const std::string& code);
  // The product a line names: by sku, else by barcode; created as unknown
  // (origin: "sale", "receipt", ...) when nobody described it yet. Throws
  // Rejected when both are empty.
  ProductId product(const std::string& sku, const std::string& barcode, const char* origin);
  std::int64_t level(ProductId p, LocationId l);

  // --- changes -----------------------------------------------------------
  // Buffers one movement and moves the level. Throws Rejected when the
  // level would leave +-kMaxLevelMilli. quantity 0 is a no-op.
  void move(ProductId p, LocationId l, std::int64_t quantity_milli, Reason reason,
            std::string_view reference, int line_no);
  void set_reorder_point(ProductId p, LocationId l, std::int64_t point_milli);
  // ProductUpserted (see stock_events.h for adoption and merging).
  void upsert_product(const v1::ProductUpserted& up);

  // Marks a document (kind "sale", "void", ...) applied. Throws Rejected
  // when this transaction already claimed it. One applied in an earlier
  // transaction is caught by the table's primary key at flush(), which then
  // throws Rejected naming the duplicate: optimistic, because a lookup per
  // sale would cost a round trip each, and duplicates are rare. (The
  // consumer redoes a failed batch event by event, so the duplicate alone is
  // dead-lettered.)
  void claim_document(const char* kind, const std::string& id);
  bool document_applied(const char* kind, const std::string& id);

  // The stock-moving lines of a sale (flushes first, so sales of this
  // transaction are included). Empty when the sale moved no stock.
  std::vector<SaleLineState> sale_lines(const std::string& sale_id);
  // Records what a void took back from a sale line (restocked or not).
  void record_void_line(const std::string& void_id, const std::string& sale_id, int line_no,
                        std::int64_t quantity_milli, bool restocked);

  // --- transaction boundaries ------------------------------------------
  // Writes everything buffered into tx. May run mid-transaction.
  void flush(pqxx::work& tx);
  // Forgets buffers and caches (the transaction did not commit).
  void discard();

 private:
  using Key = std::pair<ProductId, LocationId>;
  struct LevelState {
    std::int64_t level = 0;
    bool dirty = false;  // level differs from the stock_level row
    std::uint64_t updated_seq = 0;
    std::optional<std::int64_t> point;
    bool armed = false;
    bool point_dirty = false;
    std::uint64_t point_seq = 0;
    std::int64_t event_delta = 0;  // net change by the current event
  };
  struct ProductInfo {
    std::string sku;      // empty for a barcode-only product
    std::string barcode;  // one of its barcodes, for barcode-only products
  };

  pqxx::work& tx();
  LevelState& state(ProductId p, LocationId l);
  void touch(const Key& k);
  const ProductInfo& product_info(ProductId p);
  const std::string& location_code(LocationId l);
  std::optional<ProductId> find_by_sku(const std::string& sku);
  std::optional<ProductId> find_by_barcode(const std::string& barcode);
  ProductId create_unknown(const std::string& sku, const std::string& barcode, const char* origin);
  void claim_barcode(ProductId p, const std::string& sku, const std::string& barcode);
  void merge_product(ProductId from, ProductId into);
  void forget_products();
  void produce(v1::Envelope env);

  std::string source_;
  pqxx::work* tx_ = nullptr;
  const Event* ev_ = nullptr;

  // Caches (valid until discard()).
  std::map<Key, LevelState> levels_;
  std::unordered_map<std::string, ProductId> by_sku_, by_barcode_;
  std::unordered_map<ProductId, ProductInfo> products_;
  std::unordered_map<std::string, LocationId> by_code_;
  std::unordered_map<LocationId, std::string> codes_;

  // This event.
  std::vector<Key> touched_;
  std::vector<ProductId> merged_now_;  // by the ProductUpserted being applied

  // Buffered until flush().
  CopyBuffer<9> movements_{"movement",
                        {"seq", "event_id", "product_id", "location_id", "quantity_milli", "reason",
                         "reference", "line_no", "level_after"}};
  CopyBuffer<4> documents_{"applied_document", {"kind", "doc_id", "seq", "event_id"}};
  DuplicateGuard claims_;
  std::set<Key> dirty_levels_, dirty_points_;
  std::vector<v1::Envelope> produced_;
};

}  // namespace eck::inventory
