// inventory_load and inventory_throughput: how fast eck-inventory applies
// sales (see inventory.h for the catalog and the sales).
//
// inventory_load: the catalog, published to an eck-inventory started for
// it and stopped once it has applied and relayed it; then --sales sales
// published by --publishers publishers while no daemon runs: the backlog.
//
// inventory_throughput --mode backlog: starts eck-inventory on that backlog
// and measures from its spawn (migration check, connecting and READY=1
// included: ready_ms) until its consumer position (inventory.
// consumer_position) reaches the newest journaled event of its topics:
// `seconds`, lines_per_s and sales_per_s. That is the sustained apply rate
// of the replay path (batches of inventory.max_batch events per
// transaction). The outbox relay works at the same time; outbox_seconds is
// spawn -> no inventory.outbox row left unacknowledged (polled every 10 ms,
// after the position got there), outbox_events_per_s the rows the run wrote
// over that time.
//
// inventory_throughput --mode live: starts eck-inventory, publishes the
// catalog and waits until it is applied; then --publishers publishers push
// --sales sales as fast as they can while it runs. `seconds` is from the
// moment the publishers start until the position reaches the last sale;
// apply_lag_ms is how long after the last ack that was.
//
// Both count what was applied from the database afterwards (sale movements
// and applied sales past the position the daemon started from) and print
// the daemon's CPU time over the measurement and its VmRSS / VmHWM at the
// end.
#include <chrono>

#include <fmt/format.h>

#include "bench.h"
#include "inventory.h"

namespace eck::bench {
namespace {

using namespace inventory;

std::uint64_t read_sales(Args& args, std::int64_t fallback) {
  return static_cast<std::uint64_t>(args.integer("--sales", 0, 1'000'000'000).value_or(fallback));
}

std::size_t read_publishers(Args& args) {
  return static_cast<std::size_t>(args.integer("--publishers", 1, 256).value_or(4));
}

void stop_or_throw(Daemon& daemon) {
  if (const int code = daemon.stop(kStopGrace); code != 0)
    throw BenchError(fmt::format("{} exited with status {} after SIGTERM", daemon.name(), code));
}

// Adds the figures of a catch-up that began at t0, stops the daemon and
// prints the line. Exit status 1 for dead letters or an unclean stop.
int finish(Summary& s, LedgerProbe& probe, Daemon& daemon, const Baseline& base, Clock::time_point t0,
           const CaughtUp& done) {
  const auto applied = probe.applied_since(base.position, base.outbox_id);
  add_applied(s, applied);
  s.add("seconds", seconds(done.applied - t0), 2)
      .add("lines_per_s", per_second(applied.lines, done.applied - t0))
      .add("sales_per_s", per_second(applied.sales, done.applied - t0))
      .add("outbox_seconds", seconds(done.relayed - t0), 2)
      .add("outbox_events_per_s", per_second(applied.outbox_rows, done.relayed - t0));
  add_daemon_figures(s, daemon, probe, base);
  const int code = stop_daemon(s, daemon);
  s.print();
  if (applied.dead_letters) fmt::print(stderr, "{} events dead-lettered: see inventory.dead_letter\n", applied.dead_letters);
  return code == 0 && applied.dead_letters == 0 ? 0 : 1;
}

int run_backlog(const Options& o, LedgerProbe& probe) {
  const Baseline base = baseline(probe, nullptr);
  const auto target = probe.consumed_head();
  if (target <= base.position)
    throw BenchError(fmt::format("no backlog: the daemon is at seq {} already (run inventory_load first)", base.position));
  fmt::print(stderr, "inventory_throughput: applying journal seqs {}..{}\n", base.position + 1, target);
  auto daemon = start_daemon(o);
  const auto done = wait_caught_up(o, probe, *daemon, target);
  Summary s("inventory_throughput");
  s.add("mode", "backlog").add("ready_ms", ms_between(daemon->spawned_at(), daemon->ready_at()));
  return finish(s, probe, *daemon, base, daemon->spawned_at(), done);
}

int run_live(const Options& o, LedgerProbe& probe, std::uint64_t sales, std::size_t publishers) {
  auto daemon = start_daemon(o);
  load_catalog(o, probe, *daemon);
  const Baseline base = baseline(probe, daemon.get());
  fmt::print(stderr, "inventory_throughput: {} sales by {} publishers, daemon running\n", sales, publishers);
  const auto pub = publish_sales(o, sales, publishers);
  const auto done = wait_caught_up(o, probe, *daemon, pub.run.max_seq);
  const auto t0 = pub.run.started;
  Summary s("inventory_throughput");
  s.add("mode", "live")
      .add("publishers", static_cast<std::uint64_t>(publishers))
      .add("publish_events_per_s", per_second(pub.run.acked, pub.run.took))
      .add("publish_errors", pub.run.errors)
      .add("apply_lag_ms", ms_between(t0 + pub.run.took, done.applied));
  return finish(s, probe, *daemon, base, t0, done) | (pub.run.errors ? 1 : 0);
}

}  // namespace

int run_inventory_load(Args& args) {
  const auto o = read_options(args);
  const auto sales = read_sales(args, 100000);
  const auto publishers = read_publishers(args);
  args.finish();

  LedgerProbe probe(o.db_url);
  {
    auto daemon = start_daemon(o);
    load_catalog(o, probe, *daemon);
    stop_or_throw(*daemon);
  }
  fmt::print(stderr, "inventory_load: {} sales by {} publishers, no daemon running\n", sales, publishers);
  auto pub = publish_sales(o, sales, publishers);
  Summary("inventory_load")
      .add("sales", sales)
      .add("lines", pub.sale_lines)
      .add("publishers", static_cast<std::uint64_t>(publishers))
      .add("events_per_s", per_second(pub.run.acked, pub.run.took))
      .add("ack_p99_us", pub.run.ack.percentile_us(0.99))
      .add("seconds", seconds(pub.run.took), 2)
      .add("last_seq", pub.run.max_seq)
      .add("errors", pub.run.errors)
      .print();
  return pub.run.errors == 0 ? 0 : 1;
}

int run_inventory_throughput(Args& args) {
  const auto o = read_options(args);
  const auto mode = args.value("--mode").value_or("backlog");
  if (mode == "backlog") {
    args.finish();
    LedgerProbe probe(o.db_url);
    return run_backlog(o, probe);
  }
  if (mode != "live") throw UsageError("--mode is backlog or live, not '" + mode + "'");
  const auto sales = read_sales(args, 100000);
  const auto publishers = read_publishers(args);
  args.finish();
  LedgerProbe probe(o.db_url);
  return run_live(o, probe, sales, publishers);
}

}  // namespace eck::bench
