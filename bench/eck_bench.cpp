// eck-bench: performance scenarios against a running broker (or, for
// `startup`, a broker binary it starts itself).
//
//   eck-bench SCENARIO [options]
//
// Each run prints exactly one summary line on stdout,
//   scenario=<name> key=value ...
// and progress and diagnostics on stderr. Exit status: 0 fine, 1 the run
// failed or saw errors, 2 bad command line.
#include <cstdio>
#include <cstring>
#include <string_view>

#include <fmt/format.h>
#include <google/protobuf/stubs/common.h>

#include "bench.h"
#include "eck/daemon.h"

namespace {

using eck::Args;

struct Scenario {
  std::string_view name;
  int (*run)(Args&);
};

constexpr Scenario kScenarios[] = {
    {"publish", eck::bench::run_publish},
    {"latency", eck::bench::run_latency},
    {"replay", eck::bench::run_replay},
    {"startup", eck::bench::run_startup},
    {"inventory_load", eck::bench::run_inventory_load},
    {"inventory_throughput", eck::bench::run_inventory_throughput},
    {"inventory_latency", eck::bench::run_inventory_latency},
    {"receipt_render", eck::bench::run_receipt_render},
    {"pos_throughput", eck::bench::run_pos_throughput},
};

constexpr const char* kUsage = R"(usage: eck-bench SCENARIO [options]

Scenarios (each prints one "scenario=<name> key=value ..." line on stdout):
  publish   durable publish throughput and ack latency
              --publishers N     publisher threads, one Publisher each (default 4)
              --events N         events in total (default 200000)
              --window N         Publisher window (default 1000)
              --payload-bytes N  serialized envelope size (default 200)
              --timeout-s N      give up waiting for acks after (default 600)
  latency   paced publishing, ack and publish-to-fan-out latency
              --rate N           events per second (default 2000)
              --seconds N        duration (default 10)
              --window N, --payload-bytes N   as for publish
  replay    read the whole journal through the replay endpoint
              --batch N          max_events per REPLAY request (default 10000)
              --from SEQ         first seq (default 1)
              --timeout-s N      per answer (default 30)
  startup   spawn a broker, time READY=1, idle RSS and SIGTERM -> exit
              --broker PATH      the eck-broker binary (required)
              --config FILE      its configuration (required)
              --idle-ms N        idle time before reading VmRSS (default 2000)
              --timeout-s N      wait for READY=1 at most (default 60)
  inventory_load        the backlog: catalog (applied by an eck-inventory
                        started and stopped for it), then sales with no
                        daemon running
              --sales N          sales of 1-5 lines (default 100000)
              --publishers N     publisher threads (default 4)
  inventory_throughput  eck-inventory's sustained apply rate
              --mode backlog     start it on the backlog, time until its
                                 position reaches the journal (default)
              --mode live        it runs while publishers push sales:
                --sales N, --publishers N   as for inventory_load
  inventory_latency     paced sales -> commit and StockLevelChanged latency
  pos_throughput        eck-pos recording a backlog of sales: --pos PATH --config FILE
                        --db-url URL --sales N (50000)
  receipt_render        eck-pos receipt rendering, text and ESC/POS (no broker):
                        --receipts N (20000) --lines N (5)
              --rate N           sales per second (default 1000)
              --seconds N        duration (default 10)
              --no-commit-probe  skip the LISTEN-based commit measurement
  every inventory scenario:
              --inventory PATH   the eck-inventory binary (required)
              --config FILE      its configuration (required)
              --db-url URL       the bench database, readable: broker.journal
                                 and inventory.* (required)
              --products N       catalog size (default 1000)
              --locations N      locations (default 3)
              --timeout-s N      any one wait at most (default 600)

Broker endpoints (publish, latency, replay, inventory_*):
  --ingest URL   (default tcp://127.0.0.1:5570)
  --fanout URL   (default tcp://127.0.0.1:5571)
  --replay URL   (default tcp://127.0.0.1:5572)

  --help, --version
)";

int usage_error(const std::string& msg) {
  fmt::print(stderr, "eck-bench: {}\n(eck-bench --help lists scenarios and options)\n", msg);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (std::strcmp(argv[i], "--version") == 0) {
      fmt::print("eck-bench {}\n", eck::version());
      return 0;
    }
  }
  if (argc < 2) return usage_error("missing SCENARIO");
  const std::string_view name = argv[1];
  const Scenario* scenario = nullptr;
  for (const auto& s : kScenarios)
    if (s.name == name) scenario = &s;
  if (!scenario) return usage_error("unknown scenario '" + std::string(name) + "'");
  try {
    Args args(argc, argv, 2);
    return scenario->run(args);
  } catch (const eck::UsageError& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "eck-bench {}: {}\n", name, e.what());
    return 1;
  }
}
