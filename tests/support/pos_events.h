// The till and fiscal events around a sale, as eck-pos consumes them
// (proto/eck/v1/pos.proto, fiscal.proto), built in one line each: drawer
// sessions, cash movements, voids, TSE signatures. Sales themselves come
// from pos_sales.h (SaleBuilder). Only the payload is set: the caller (or
// the publisher) completes the envelope. Money is integer cents of EUR.
//
//   using namespace eck::test::pos;
//   send(drawer_opened("SCHICHT-1", "till-1", 15000));
//   send(sale_event(SaleBuilder("S-1").session("SCHICHT-1").line("Tee", kUnit, 349, 1900)
//                       .pay(v1::PAYMENT_METHOD_CASH, 500).build()));
//   send(void_lines("V-1", "S-1", "till-1", "SCHICHT-1", {{1, 0}}, {{v1::PAYMENT_METHOD_CASH, 349}}));
//   send(drawer_closed("SCHICHT-1", "till-1", 15349));
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "eck/v1/envelope.pb.h"
#include "pos_sales.h"

namespace eck::test::pos {

constexpr const char* kCurrency = "EUR";

inline v1::Money eur(std::int64_t minor) {
  v1::Money m;
  set_money(&m, minor, kCurrency);
  return m;
}

inline google::protobuf::Timestamp now() { return google::protobuf::util::TimeUtil::GetCurrentTime(); }

inline v1::Envelope sale_event(v1::SaleCompleted s) {
  v1::Envelope env;
  *env.mutable_sale_completed() = std::move(s);
  return env;
}

// A payment or a refund.
struct Tender {
  v1::PaymentMethod method = v1::PAYMENT_METHOD_CASH;
  std::int64_t amount = 0;
};

// A voided line: line_no and quantity (0: all that remains of it).
struct Taken {
  int no = 0;
  std::int64_t quantity_milli = 0;
};

inline v1::Envelope void_lines(const std::string& id, const std::string& sale_id, const std::string& register_id,
                               const std::string& session_id, const std::vector<Taken>& lines,
                               const std::vector<Tender>& refunds) {
  v1::Envelope env;
  auto* v = env.mutable_sale_voided();
  v->set_void_id(id);
  v->set_original_sale_id(sale_id);
  v->set_register_id(register_id);
  v->set_session_id(session_id);
  v->set_cashier("anna");
  v->set_reason("Kunde hat es sich anders überlegt");
  for (const auto& t : lines) {
    auto* l = v->add_lines();
    l->set_line_no(t.no);
    l->set_quantity_milli(t.quantity_milli);
  }
  for (const auto& t : refunds) {
    auto* r = v->add_refunds();
    r->set_method(t.method);
    *r->mutable_amount() = eur(t.amount);
  }
  *v->mutable_voided_at() = now();
  return env;
}

inline v1::Envelope void_whole(const std::string& id, const std::string& sale_id, const std::string& register_id,
                               const std::string& session_id, const std::vector<Tender>& refunds) {
  v1::Envelope env = void_lines(id, sale_id, register_id, session_id, {}, refunds);
  env.mutable_sale_voided()->set_whole_sale(true);
  return env;
}

inline v1::Envelope drawer_opened(const std::string& session_id, const std::string& register_id,
                                  std::int64_t opening_float) {
  v1::Envelope env;
  auto* o = env.mutable_cash_drawer_opened();
  o->set_session_id(session_id);
  o->set_register_id(register_id);
  o->set_location("Laden");
  o->set_cashier("anna");
  *o->mutable_opening_float() = eur(opening_float);
  *o->mutable_opened_at() = now();
  return env;
}

inline v1::Envelope drawer_closed(const std::string& session_id, const std::string& register_id,
                                  std::int64_t counted) {
  v1::Envelope env;
  auto* c = env.mutable_cash_drawer_closed();
  c->set_session_id(session_id);
  c->set_register_id(register_id);
  c->set_cashier("anna");
  *c->mutable_counted() = eur(counted);
  *c->mutable_closed_at() = now();
  return env;
}

inline v1::Envelope cash_movement(const std::string& id, const std::string& session_id,
                                  const std::string& register_id, v1::CashDirection direction,
                                  std::int64_t amount) {
  v1::Envelope env;
  auto* m = env.mutable_cash_movement();
  m->set_movement_id(id);
  m->set_session_id(session_id);
  m->set_register_id(register_id);
  m->set_direction(direction);
  *m->mutable_amount() = eur(amount);
  m->set_reason(direction == v1::CASH_DIRECTION_IN ? "Wechselgeld" : "Bankeinzahlung");
  *m->mutable_at() = now();
  return env;
}

// What eck-fiscal publishes once the TSE signed a sale (software signer).
struct Signature {
  std::uint64_t transaction_number = 0;
  std::uint64_t signature_counter = 0;
  std::string signature;
  std::string tse_serial;
  std::string qr_code;
};

inline v1::Envelope sale_signed(const std::string& sale_id, const std::string& register_id, const Signature& sig) {
  v1::Envelope env;
  auto* s = env.mutable_sale_signed();
  s->set_sale_id(sale_id);
  s->set_register_id(register_id);
  s->set_transaction_number(sig.transaction_number);
  s->set_signature_counter(sig.signature_counter);
  s->set_signature(sig.signature);
  s->set_tse_serial(sig.tse_serial);
  s->set_qr_code(sig.qr_code);
  s->set_signature_algorithm("ecdsa-plain-SHA256");
  s->set_process_type("Kassenbeleg-V1");
  *s->mutable_started_at() = now();
  *s->mutable_finished_at() = now();
  return env;
}

}  // namespace eck::test::pos
