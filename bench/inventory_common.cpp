#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "eck/uuid.h"
#include "inventory.h"

namespace eck::bench::inventory {
namespace {

constexpr std::int64_t kUnit = 1000;  // quantities are thousandths
constexpr std::size_t kWindow = 1000;
constexpr int kReceiptLines = 1000;  // opening stock: lines per StockReceived

void set_money(v1::Money* m, std::int64_t minor) {
  m->set_currency("EUR");
  m->set_minor(minor);
}

v1::Envelope product(int p) {
  v1::Envelope env;
  auto* u = env.mutable_product_upserted();
  u->set_sku(sku(p));
  u->add_barcodes(fmt::format("2{:012}", p));
  u->set_name(fmt::format("Bench product {}", p));
  u->set_unit("pcs");
  set_money(u->mutable_price(), 99 + p % 900);
  return env;
}

v1::Envelope rule(int p, int l) {
  v1::Envelope env;
  auto* r = env.mutable_reorder_rule_set();
  r->set_sku(sku(p));
  r->set_location(location(l));
  r->set_reorder_point_milli(20 * kUnit);
  r->set_max_level_milli(200 * kUnit);
  r->set_supplier("SUP-1");
  return env;
}

// Opening stock of products [first, last) at location l.
v1::Envelope receipt(int l, int first, int last) {
  v1::Envelope env;
  auto* r = env.mutable_stock_received();
  r->set_location(location(l));  // receipt_id left empty: the event_id stands for it
  r->set_supplier("SUP-1");
  for (int p = first; p < last; ++p) {
    auto* line = r->add_lines();
    line->set_sku(sku(p));
    line->set_quantity_milli(150 * kUnit);
  }
  return env;
}

std::string required(Args& args, const std::string& name, const char* what) {
  auto v = args.value(name);
  if (!v || v->empty()) throw UsageError("needs " + name + " " + what);
  return *v;
}

// Polls `done` every `every` until it holds; BenchError when the daemon
// exits or `timeout` passes first (`what` names the wait).
template <typename Done>
void poll_until(Done done, Daemon& daemon, std::chrono::seconds timeout, std::chrono::milliseconds every,
                const std::string& what) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    daemon.check_running("while waiting for " + what);
    if (Clock::now() > deadline) throw BenchError(fmt::format("{} not reached within {} s", what, timeout.count()));
    std::this_thread::sleep_for(every);
  }
}

}  // namespace

Options read_options(Args& args) {
  Options o;
  o.ep = read_endpoints(args);
  o.binary = required(args, "--inventory", "PATH (the eck-inventory binary)");
  o.config = required(args, "--config", "FILE (eck-inventory's configuration)");
  o.db_url = required(args, "--db-url", "URL (the bench database)");
  o.products = static_cast<int>(args.integer("--products", 1, 10'000'000).value_or(o.products));
  o.locations = static_cast<int>(args.integer("--locations", 1, 1000).value_or(o.locations));
  o.timeout = std::chrono::seconds(args.integer("--timeout-s", 1, 86400).value_or(o.timeout.count()));
  if (::access(o.binary.c_str(), X_OK) != 0) throw UsageError("--inventory " + o.binary + " is not an executable file");
  return o;
}

std::string sku(int product) { return fmt::format("INV-{:05}", product); }
std::string location(int index) { return fmt::format("STORE-{}", index + 1); }

std::vector<v1::Envelope> catalog(const Options& o) {
  std::vector<v1::Envelope> out;
  for (int p = 0; p < o.products; ++p) out.push_back(product(p));
  for (int p = 0; p < o.products; ++p)
    for (int l = 0; l < o.locations; ++l)
      if ((p + l) % 4 == 0) out.push_back(rule(p, l));
  for (int l = 0; l < o.locations; ++l)
    for (int first = 0; first < o.products; first += kReceiptLines)
      out.push_back(receipt(l, first, std::min(o.products, first + kReceiptLines)));
  return out;
}

SaleMaker::SaleMaker(const Options& o, std::uint64_t seed) : o_(o), rng_(seed) {}

v1::Envelope SaleMaker::next() {
  v1::Envelope env;
  env.set_event_id(new_uuid_v7());
  auto* s = env.mutable_sale_completed();
  s->set_sale_id(env.event_id());
  const int l = pick(0, o_.locations - 1);
  s->set_location(location(l));
  s->set_register_id(fmt::format("R-{}-{}", l + 1, pick(1, 4)));
  s->set_cashier(fmt::format("C-{}", pick(1, 12)));
  const int lines = pick(1, 5);
  std::int64_t gross = 0;
  for (int i = 1; i <= lines; ++i) {
    const int p = pick(0, o_.products - 1);
    auto* line = s->add_lines();
    line->set_line_no(i);
    line->set_sku(sku(p));
    line->set_quantity_milli(pick(1, 3) * kUnit);
    set_money(line->mutable_unit_price(), 99 + p % 900);
    const std::int64_t total = line->unit_price().minor() * line->quantity_milli() / kUnit;
    set_money(line->mutable_line_total(), total);
    gross += total;
  }
  set_money(s->mutable_totals()->mutable_gross(), gross);
  return env;
}

Published publish_sales(const Options& o, std::uint64_t sales, std::size_t publishers) {
  std::vector<SaleMaker> makers;
  for (std::size_t i = 0; i < publishers; ++i) makers.emplace_back(o, 1 + i);
  std::vector<std::uint64_t> lines(publishers);
  auto run = publish_parallel(o.ep, publishers, sales, kWindow, o.timeout, [&](std::size_t w, std::uint64_t) {
    auto env = makers[w].next();
    lines[w] += static_cast<std::uint64_t>(env.sale_completed().lines_size());
    return env;
  });
  Published p{std::move(run), 0};
  for (auto n : lines) p.sale_lines += n;
  return p;
}

PublishRun publish_catalog(const Options& o) {
  const auto events = catalog(o);
  auto run = publish_parallel(o.ep, 1, events.size(), kWindow, o.timeout,
                              [&](std::size_t, std::uint64_t n) { return events[n]; });
  if (run.errors) throw BenchError(fmt::format("{} catalog events refused or unanswered", run.errors));
  return run;
}

LedgerProbe::LedgerProbe(const std::string& url) : conn_(url) {}

std::uint64_t LedgerProbe::scalar(const std::string& sql) {
  pqxx::nontransaction tx(conn_);
  return tx.exec1(sql)[0].as<std::uint64_t>();
}

std::uint64_t LedgerProbe::position() {
  return scalar("SELECT coalesce(max(position), 0) FROM inventory.consumer_position WHERE consumer = 'inventory'");
}

bool LedgerProbe::outbox_pending() {
  return scalar("SELECT count(*) FROM (SELECT 1 FROM inventory.outbox"
                " WHERE acked_seq IS NULL AND rejected IS NULL LIMIT 1) p") > 0;
}

std::uint64_t LedgerProbe::consumed_head() {
  return scalar("SELECT coalesce(max(seq), 0) FROM broker.journal"
                " WHERE topic LIKE 'catalog.%' OR topic LIKE 'pos.Sale%' OR topic LIKE 'warehouse.%'");
}

std::uint64_t LedgerProbe::outbox_last_id() { return scalar("SELECT coalesce(max(id), 0) FROM inventory.outbox"); }

LedgerProbe::Applied LedgerProbe::applied_since(std::uint64_t after_seq, std::uint64_t after_outbox_id) {
  pqxx::nontransaction tx(conn_);
  auto r = tx.exec_params1(
      "SELECT (SELECT count(*) FROM inventory.applied_document WHERE kind = 'sale' AND seq > $1),"
      " (SELECT count(*) FROM inventory.movement WHERE reason IN ('sale', 'sale_return') AND seq > $1),"
      " (SELECT count(*) FROM inventory.dead_letter WHERE seq > $1),"
      " (SELECT count(*) FROM inventory.outbox WHERE id > $2)",
      after_seq, after_outbox_id);
  return {r[0].as<std::uint64_t>(), r[1].as<std::uint64_t>(), r[2].as<std::uint64_t>(), r[3].as<std::uint64_t>()};
}

bool LedgerProbe::outbox_row_done(std::uint64_t id) {
  pqxx::nontransaction tx(conn_);
  return id == 0 || !tx.exec_params("SELECT 1 FROM inventory.outbox"
                                    " WHERE id = $1 AND (acked_seq IS NOT NULL OR rejected IS NOT NULL)",
                                    id).empty();
}

std::map<int, double> LedgerProbe::daemon_sessions_cpu() {
  pqxx::nontransaction tx(conn_);
  std::map<int, double> cpu;
  for (const auto& row : tx.exec("SELECT pid FROM pg_stat_activity WHERE application_name = 'eck-inventory'")) {
    const int pid = row[0].as<int>();
    if (const double c = process_cpu_seconds(pid); c >= 0) cpu[pid] = c;
  }
  return cpu;
}

Baseline baseline(LedgerProbe& probe, const Daemon* daemon) {
  Baseline b;
  b.position = probe.position();
  b.outbox_id = probe.outbox_last_id();
  if (daemon) {
    b.daemon_cpu = process_cpu_seconds(daemon->pid());
    b.sessions_cpu = probe.daemon_sessions_cpu();
  }
  return b;
}

CaughtUp wait_caught_up(const Options& o, LedgerProbe& probe, Daemon& daemon, std::uint64_t target) {
  using std::chrono::milliseconds;
  CaughtUp c;
  poll_until([&] { return probe.position() >= target; }, daemon, o.timeout, milliseconds(10),
             fmt::format("inventory position {}", target));
  c.applied = Clock::now();
  // The relay stamps rows in id order: the newest one last.
  const auto newest = probe.outbox_last_id();
  poll_until([&] { return probe.outbox_row_done(newest); }, daemon, o.timeout, milliseconds(10),
             fmt::format("inventory.outbox row {} relayed", newest));
  poll_until([&] { return !probe.outbox_pending(); }, daemon, o.timeout, milliseconds(100),
             "an empty inventory outbox");
  c.relayed = Clock::now();
  return c;
}

std::unique_ptr<Daemon> start_daemon(const Options& o) {
  auto d = std::make_unique<Daemon>(o.binary, o.config, std::chrono::seconds(60));
  fmt::print(stderr, "{} ready after {} ms\n", d->name(), ms_between(d->spawned_at(), d->ready_at()));
  return d;
}

void load_catalog(const Options& o, LedgerProbe& probe, Daemon& daemon) {
  const auto run = publish_catalog(o);
  wait_caught_up(o, probe, daemon, run.max_seq);
  fmt::print(stderr, "catalog: {} events published and applied\n", run.events);
}

void add_daemon_figures(Summary& s, Daemon& daemon, LedgerProbe& probe, const Baseline& base) {
  double sessions = 0;
  for (const auto& [pid, cpu] : probe.daemon_sessions_cpu()) {
    auto before = base.sessions_cpu.find(pid);
    sessions += cpu - (before == base.sessions_cpu.end() ? 0.0 : before->second);
  }
  s.add("daemon_cpu_s", process_cpu_seconds(daemon.pid()) - base.daemon_cpu, 2)
      .add("daemon_pg_cpu_s", sessions, 2)
      .add("daemon_rss_kb", proc_status_kb(daemon.pid(), "VmRSS"))
      .add("daemon_hwm_kb", proc_status_kb(daemon.pid(), "VmHWM"))
      .add("daemon_rss_anon_kb", proc_status_kb(daemon.pid(), "RssAnon"));
}

void add_applied(Summary& s, const LedgerProbe::Applied& a) {
  s.add("sales", a.sales).add("lines", a.lines).add("outbox_events", a.outbox_rows).add("dead_letters", a.dead_letters);
}

int stop_daemon(Summary& s, Daemon& daemon) {
  const auto t_term = Clock::now();
  const int code = daemon.stop(kStopGrace);
  s.add("stop_ms", ms_between(t_term, Clock::now())).add("exit_code", code);
  return code;
}

std::int64_t per_second(std::uint64_t n, Clock::duration d) {
  const double secs = seconds(d);
  return secs > 0 ? static_cast<std::int64_t>(static_cast<double>(n) / secs) : 0;
}

}  // namespace eck::bench::inventory
