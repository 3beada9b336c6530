// pos_throughput: how fast eck-pos records sales. A drawer session is
// opened and --sales sales (3 lines at 19 % / 7 %, one cash payment with
// change or card + cash; arithmetic consistent, built with eck-pos's own
// sale_checks functions) are published by 4 publishers while no eck-pos
// runs: a backlog. Then eck-pos (--pos PATH --config FILE) is started and
// timed from its spawn until pos.consumer_position (read through --db-url)
// reaches the last sale: sales_per_s, lines_per_s (the replay path, batches
// of pos.max_batch). Also: flagged (sales recorded with problems: 0 when
// the arithmetic is right), dead_letters, and the daemon's VmRSS / VmHWM.
// The figure: at least 5,000 sales/s.
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "bench.h"
#include "daemon.h"
#include "eck/uuid.h"
#include "sale_checks.h"

namespace eck::bench {

namespace {

v1::Money eur(std::int64_t minor) {
  v1::Money m;
  m.set_currency("EUR");
  m.set_minor(minor);
  return m;
}

v1::Envelope open_drawer(const std::string& session) {
  v1::Envelope env;
  auto* o = env.mutable_cash_drawer_opened();
  o->set_session_id(session);
  o->set_register_id("BENCH-1");
  o->set_location("store-1");
  *o->mutable_opening_float() = eur(10000);
  return env;
}

// Sale n: deterministic, consistent (lines, VAT per rate, payments, change).
v1::Envelope sale(const std::string& session, std::uint64_t n) {
  v1::Envelope env;
  env.set_event_id(new_uuid_v7());
  auto* s = env.mutable_sale_completed();
  s->set_sale_id(env.event_id());
  s->set_register_id("BENCH-1");
  s->set_location("store-1");
  s->set_session_id(session);
  std::vector<pos::VatTotal> vat;
  std::int64_t gross = 0;
  for (int i = 1; i <= 3; ++i) {
    auto* l = s->add_lines();
    const bool reduced = i == 2;
    const std::int64_t price = 99 + static_cast<std::int64_t>((n * 7 + i * 13) % 1900);
    const std::int64_t qty = 1000 * static_cast<std::int64_t>(1 + (n + i) % 3);
    std::int64_t total = 0;
    pos::line_total(qty, price, 0, total);
    l->set_line_no(i);
    l->set_sku(fmt::format("SKU-{}", (n * 3 + i) % 500));
    l->set_name(fmt::format("Artikel {}", i));
    l->set_quantity_milli(qty);
    *l->mutable_unit_price() = eur(price);
    l->mutable_vat()->set_category(reduced ? v1::VAT_CATEGORY_REDUCED : v1::VAT_CATEGORY_STANDARD);
    l->mutable_vat()->set_rate_bp(reduced ? 700 : 1900);
    *l->mutable_line_total() = eur(total);
    pos::add_gross(vat, l->vat().category(), l->vat().rate_bp(), total);
    gross += total;
  }
  auto* t = s->mutable_totals();
  std::int64_t net = 0, tax = 0;
  for (const auto& v : vat) {
    auto* r = t->add_by_rate();
    r->mutable_vat()->set_category(static_cast<v1::VatCategory>(v.vat_category));
    r->mutable_vat()->set_rate_bp(v.vat_rate_bp);
    *r->mutable_net() = eur(v.net_minor);
    *r->mutable_vat_amount() = eur(v.vat_minor);
    *r->mutable_gross() = eur(v.gross_minor);
    net += v.net_minor;
    tax += v.vat_minor;
  }
  *t->mutable_gross() = eur(gross);
  *t->mutable_net() = eur(net);
  *t->mutable_vat() = eur(tax);
  auto pay = [&](v1::PaymentMethod m, std::int64_t amount) {
    auto* p = s->add_payments();
    p->set_method(m);
    *p->mutable_amount() = eur(amount);
  };
  if (n % 2 == 0) {
    pay(v1::PAYMENT_METHOD_CASH, gross + 100);
    *t->mutable_change() = eur(100);
  } else {
    pay(v1::PAYMENT_METHOD_DEBIT_CARD, gross - 50);
    pay(v1::PAYMENT_METHOD_CASH, 50);
    *t->mutable_change() = eur(0);
  }
  return env;
}

std::uint64_t scalar(pqxx::connection& c, const std::string& sql) {
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  return r.empty() || r[0][0].is_null() ? 0 : r[0][0].as<std::uint64_t>();
}

}  // namespace

int run_pos_throughput(Args& args) {
  const Endpoints ep = read_endpoints(args);
  const auto binary = args.value("--pos");
  const auto config = args.value("--config");
  const auto db_url = args.value("--db-url");
  const auto sales = static_cast<std::uint64_t>(args.integer("--sales", 1, 100'000'000).value_or(50000));
  const std::chrono::seconds timeout(args.integer("--timeout-s", 1, 86400).value_or(600));
  args.finish();
  if (!binary || !config || !db_url) throw UsageError("pos_throughput needs --pos, --config and --db-url");

  const std::string session = "bench-" + new_uuid_v7();
  auto opened = publish_parallel(ep, 1, 1, 1, timeout, [&](std::size_t, std::uint64_t) { return open_drawer(session); });
  auto run = publish_parallel(ep, 4, sales, 1000, timeout,
                              [&](std::size_t, std::uint64_t n) { return sale(session, n); });
  if (opened.errors || run.errors) throw BenchError("some publishes were refused or not answered");
  fmt::print(stderr, "pos_throughput: {} sales journaled (last seq {}); starting eck-pos\n", sales, run.max_seq);

  pqxx::connection db(*db_url);
  Daemon daemon(*binary, *config, std::chrono::seconds(60));
  const auto deadline = Clock::now() + timeout;
  while (scalar(db, "SELECT position FROM pos.consumer_position WHERE consumer = 'pos'") < run.max_seq) {
    daemon.check_running("recording the backlog");
    if (Clock::now() > deadline) throw BenchError("eck-pos did not catch up in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const auto took = Clock::now() - daemon.spawned_at();
  // This run's sales are those of its session (the schema exists once READY).
  const std::string mine = "FROM pos.sale WHERE session_id = " + db.quote(session);
  const auto recorded = scalar(db, "SELECT count(*) " + mine);
  const auto flagged = scalar(db, "SELECT count(*) " + mine + " AND problems <> '{}'");
  const auto dead = scalar(db, "SELECT count(*) FROM pos.dead_letter");
  const auto rss = proc_status_kb(daemon.pid(), "VmRSS"), hwm = proc_status_kb(daemon.pid(), "VmHWM");
  const int code = daemon.stop(std::chrono::seconds(30));
  Summary("pos_throughput")
      .add("sales", recorded)
      .add("ready_ms", ms_between(daemon.spawned_at(), daemon.ready_at()))
      .add("seconds", seconds(took), 2)
      .add("sales_per_s", static_cast<std::int64_t>(static_cast<double>(recorded) / seconds(took)))
      .add("lines_per_s", static_cast<std::int64_t>(3.0 * static_cast<double>(recorded) / seconds(took)))
      .add("publish_events_per_s", static_cast<std::int64_t>(static_cast<double>(run.acked) / seconds(run.took)))
      .add("flagged", flagged)
      .add("dead_letters", dead)
      .add("daemon_rss_kb", rss)
      .add("daemon_hwm_kb", hwm)
      .add("exit_code", code)
      .print();
  return recorded == sales && flagged == 0 && dead == 0 && code == 0 ? 0 : 1;
}

}  // namespace eck::bench
