// startup: spawns a broker (or any eck daemon that speaks sd_notify) with
// NOTIFY_SOCKET pointing at our own socket; measures spawn -> READY=1, the
// resident set after an idle period, and SIGTERM -> exit.
#include <unistd.h>

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "bench.h"
#include "daemon.h"

namespace eck::bench {

int run_startup(Args& args) {
  const auto broker = args.value("--broker");
  const auto config = args.value("--config");
  const auto idle = std::chrono::milliseconds(args.integer("--idle-ms", 0, 600000).value_or(2000));
  const auto ready_timeout = std::chrono::seconds(args.integer("--timeout-s", 1, 3600).value_or(60));
  args.finish();
  if (!broker) throw UsageError("startup needs --broker PATH");
  if (!config) throw UsageError("startup needs --config FILE");
  if (::access(broker->c_str(), X_OK) != 0) throw UsageError("--broker " + *broker + " is not an executable file");

  Daemon daemon(*broker, *config, ready_timeout);
  fmt::print(stderr, "startup: {} ready after {} ms\n", daemon.name(),
             ms_between(daemon.spawned_at(), daemon.ready_at()));
  std::this_thread::sleep_for(idle);
  daemon.check_running("while idle");
  const auto rss = proc_status_kb(daemon.pid(), "VmRSS");
  const auto t_term = Clock::now();
  const int code = daemon.stop(std::chrono::seconds(30));
  const auto t_exit = Clock::now();
  Summary("startup")
      .add("binary", daemon.name())
      .add("ready_ms", ms_between(daemon.spawned_at(), daemon.ready_at()))
      .add("idle_rss_kb", rss)
      .add("stop_ms", ms_between(t_term, t_exit))
      .add("exit_code", code)
      .print();
  return code == 0 ? 0 : 1;
}

}  // namespace eck::bench
