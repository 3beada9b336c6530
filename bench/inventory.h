// What the inventory scenarios (inventory_load, inventory_throughput,
// inventory_latency) share: their options, the catalog and the sales they
// publish, and a connection that watches the daemon's ledger.
//
// The catalog: --products products (sku INV-00000 ...) with one barcode
// each, over --locations locations (STORE-1 ...); a reorder rule (point 20
// units) for every fourth (product, location); opening stock of 150 units
// everywhere (one StockReceived per location). Publishing it again is
// harmless (the same products and rules; more opening stock).
//
// A sale: 1 to 5 lines (uniform), each a uniformly chosen product at the
// sale's uniformly chosen location, 1 to 3 units; sale_id = event_id, so
// sales of any two runs never collide.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "bench.h"
#include "daemon.h"

namespace eck::bench::inventory {

struct Options {
  Endpoints ep;
  std::string binary;  // --inventory PATH: eck-inventory
  std::string config;  // --config FILE: its configuration
  std::string db_url;  // --db-url URL: the bench database, as a role that may read broker.* and inventory.*
  int products = 1000;
  int locations = 3;
  std::chrono::seconds timeout{600};  // --timeout-s: any one wait
};
// Reads the options above (and the endpoints); the caller reads its own and finish()es.
Options read_options(Args& args);

std::string sku(int product);
std::string location(int index);
std::vector<v1::Envelope> catalog(const Options& o);

class SaleMaker {
 public:
  SaleMaker(const Options& o, std::uint64_t seed);
  v1::Envelope next();

 private:
  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  const Options& o_;
  std::mt19937_64 rng_;
};

// The catalog, by one publisher (in order). Throws BenchError unless every
// event was acknowledged.
PublishRun publish_catalog(const Options& o);

// `sales` sales by `publishers` publishers as fast as they go (window 1000),
// each with a SaleMaker of its own.
struct Published {
  PublishRun run;
  std::uint64_t sale_lines = 0;
};
Published publish_sales(const Options& o, std::uint64_t sales, std::size_t publishers);

// The daemon's ledger as its database shows it (a connection of our own).
class LedgerProbe {
 public:
  explicit LedgerProbe(const std::string& url);

  // inventory.consumer_position of consumer 'inventory' (0 when none yet).
  std::uint64_t position();
  // Some inventory.outbox row is neither acknowledged nor rejected.
  bool outbox_pending();
  // The newest journal seq of a topic eck-inventory consumes (0: none).
  std::uint64_t consumed_head();
  std::uint64_t outbox_last_id();
  // Row `id` of inventory.outbox is acknowledged or rejected (true for 0).
  bool outbox_row_done(std::uint64_t id);
  // User + system CPU seconds so far of each PostgreSQL backend serving
  // application_name 'eck-inventory' (the daemon's consumer and relay).
  std::map<int, double> daemon_sessions_cpu();

  // What was applied by journal events after `after_seq`, and the outbox
  // rows written after id `after_outbox_id`.
  struct Applied {
    std::uint64_t sales = 0, lines = 0, dead_letters = 0, outbox_rows = 0;
  };
  Applied applied_since(std::uint64_t after_seq, std::uint64_t after_outbox_id);

 private:
  std::uint64_t scalar(const std::string& sql);
  pqxx::connection conn_;
};

// Where the ledger and the daemon stood before a measurement; without a
// daemon (not started yet) its CPU counts from 0.
struct Baseline {
  std::uint64_t position = 0, outbox_id = 0;
  double daemon_cpu = 0;
  std::map<int, double> sessions_cpu;
};
Baseline baseline(LedgerProbe& probe, const Daemon* daemon);

// When the daemon had applied every event up to `target` (its position got
// there) and when its outbox relay had then published every row (the
// newest row is stamped, and none is left unstamped). Polls every 10 ms
// (two primary-key lookups: counting unstamped rows is not cheap); throws
// BenchError when the daemon exits or o.timeout passes.
struct CaughtUp {
  Clock::time_point applied, relayed;
};
CaughtUp wait_caught_up(const Options& o, LedgerProbe& probe, Daemon& daemon, std::uint64_t target);

// eck-inventory started with o.config (READY=1 within 60 s).
std::unique_ptr<Daemon> start_daemon(const Options& o);
// The catalog published to a running daemon, which is then caught up.
void load_catalog(const Options& o, LedgerProbe& probe, Daemon& daemon);

// Since `base`: daemon_cpu_s (the daemon's CPU time) and daemon_pg_cpu_s
// (its PostgreSQL sessions'; read before it stops, as they end with it);
// now: daemon_rss_kb (VmRSS), daemon_hwm_kb (VmHWM, the peak) and
// daemon_rss_anon_kb (RssAnon: VmRSS without mapped files, i.e. libraries).
void add_daemon_figures(Summary& s, Daemon& daemon, LedgerProbe& probe, const Baseline& base);
// sales, lines, outbox_events, dead_letters.
void add_applied(Summary& s, const LedgerProbe::Applied& a);

// SIGTERM, SIGKILL after kStopGrace; adds stop_ms (SIGTERM -> exit) and
// exit_code. Returns the exit code.
constexpr std::chrono::seconds kStopGrace{30};
int stop_daemon(Summary& s, Daemon& daemon);

// n per second over d (0 for an empty d).
std::int64_t per_second(std::uint64_t n, Clock::duration d);

}  // namespace eck::bench::inventory
