// Books: how eck-pos records what the tills publish (the pos schema).
//
// Rules (tests/pos_books_test.cpp pins each down):
// - SaleCompleted: sale_id and register_id required (else rejected: the
//   event goes to pos.dead_letter with the reason). The register is
//   recorded (created on first sight, with its location). The sale is
//   checked (sale_checks.h) and recorded with its lines, payments and the
//   VAT per rate that eck-pos computes; failed checks are stored as its
//   `problems`, never fixed. It belongs to the open drawer session of its
//   register; with none open it is recorded outside any session and flagged
//   (a session_id that names another session is flagged too). A second sale
//   with the same sale_id is rejected as a duplicate.
// - SaleVoided: void_id and register_id required; duplicates rejected. The
//   value of the voided lines is computed from the original sale (a part of
//   a line: pro rata of its total, rounded so that voiding a line in parts
//   adds up to the whole); a void of an unknown sale, of more than remains,
//   or with refunds that differ from that value is recorded and flagged.
//   It belongs to the open session of its register (refunds leave that drawer).
// - CashDrawerOpened: session_id, register_id and a currency required; a
//   negative float, a register that already has an open session, or a
//   session_id seen before: rejected.
// - CashMovement: movement_id and a direction required, amount > 0;
//   duplicates rejected. Outside the open session of its register: recorded
//   and flagged.
// - CashDrawerClosed: an open session required (unknown session, or a
//   second close: rejected). Closes it with the counted amount and writes
//   its Z-report (zreport.h) with the next Z number of the register.
// - SaleSigned (from eck-fiscal): the TSE data is recorded for the receipt
//   (also a signing failure); a second signature for the same sale (or void)
//   is rejected as a duplicate.
//
// Writes are buffered and flushed once per transaction (TransactionHooks),
// like the inventory ledger. Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include <pqxx/pqxx>

#include "eck/copy_buffer.h"
#include "eck/duplicate_guard.h"
#include "eck/follower.h"  // Event

namespace eck::pos {

class Books {
 public:
  Books() = default;

  // Records one event inside tx. Throws eck::Rejected for the rejections above.
  void apply(const Event& ev, pqxx::work& tx);
  // Writes everything buffered (TransactionHooks::before_commit). May run
  // mid-transaction.
  void flush(pqxx::work& tx);
  // Forgets buffers and caches (TransactionHooks::after_rollback).
  void discard();

 private:
  struct RegisterState {
    std::string location;
    std::optional<std::string> open_session;  // loaded lazily
    bool session_known = false;
  };

  void sale_completed(const Event& ev, pqxx::work& tx);
  void sale_voided(const Event& ev, pqxx::work& tx);
  void drawer_opened(const Event& ev, pqxx::work& tx);
  void cash_movement(const Event& ev, pqxx::work& tx);
  void drawer_closed(const Event& ev, pqxx::work& tx);
  void sale_signed(const Event& ev, pqxx::work& tx);

  // Seen: creates or refreshes the register row (buffered upsert).
  RegisterState& register_seen(pqxx::work& tx, const std::string& id, const std::string& location,
                               std::uint64_t seq);
  // The session a sale, void or cash movement belongs to; adds a problem
  // when there is none or the event names another.
  std::optional<std::string> session_for(pqxx::work& tx, const std::string& register_id,
                                         const std::string& named, std::vector<std::string>& problems);

  std::unordered_map<std::string, RegisterState> registers_;
  std::unordered_map<std::string, std::uint64_t> dirty_registers_;  // id -> last seq

  DuplicateGuard claims_;
  CopyBuffer<17> sales_{"sale",
                        {"sale_id", "seq", "event_id", "register_id", "location", "cashier",
                         "session_id", "currency", "started_at", "finished_at", "training",
                         "abandoned", "gross_minor", "net_minor", "vat_minor", "change_minor",
                         "problems"}};
  CopyBuffer<12> lines_{"sale_line",
                        {"sale_id", "idx", "line_no", "sku", "barcode", "name", "quantity_milli",
                         "unit_price_minor", "vat_category", "vat_rate_bp", "discount_minor",
                         "line_total_minor"}};
  CopyBuffer<5> payments_{"sale_payment", {"sale_id", "idx", "method", "amount_minor", "currency"}};
  CopyBuffer<6> vat_{"sale_vat",
                     {"sale_id", "vat_category", "vat_rate_bp", "net_minor", "vat_minor",
                      "gross_minor"}};
  CopyBuffer<13> signatures_{"receipt_signature",
                             {"sale_id", "void_id", "seq", "transaction_number",
                              "signature_counter", "signature", "tse_serial", "algorithm",
                              "qr_code", "started_at", "finished_at", "certified", "error"}};
};

}  // namespace eck::pos
