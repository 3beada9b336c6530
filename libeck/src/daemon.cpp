// Command line, signals and sd_notify for every eck daemon.
#include "eck/daemon.h"

#include <spdlog/spdlog.h>

#include "eck/log.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <system_error>

#include <systemd/sd-daemon.h>

namespace eck {

namespace {

[[noreturn]] void usage_error(std::string_view program, std::string_view usage,
                              const std::string& msg) {
  std::cerr << program << ": " << msg << "\n\n" << usage;
  if (!usage.empty() && usage.back() != '\n') std::cerr << '\n';
  std::cerr.flush();
  std::exit(2);
}

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv, std::string_view program,
                               std::string_view usage, std::string_view default_config) {
  CommandLine cli;
  cli.program = std::string(program);
  bool config_given = false;
  bool options_done = false;

  auto set_config = [&](std::string value, std::string_view spelled) {
    if (config_given) usage_error(program, usage, "--config given more than once");
    if (value.empty()) usage_error(program, usage, std::string(spelled) + " needs a path");
    cli.config_path = std::move(value);
    config_given = true;
  };

  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i] ? argv[i] : "";
    if (options_done || a.size() < 2 || a.front() != '-') {
      cli.args.emplace_back(a);
      continue;
    }
    const bool ours = a == "--" || a == "--help" || a == "-h" || a == "--version" ||
                      a == "--check-config" || a == "--config" || a == "-c" ||
                      a.starts_with("--config=");
    if (!ours && !cli.args.empty()) {
      // After a subcommand, its own options are the subcommand's to judge.
      cli.args.emplace_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
    } else if (a == "--help" || a == "-h") {
      std::cout << usage;
      if (!usage.empty() && usage.back() != '\n') std::cout << '\n';
      std::cout.flush();
      std::exit(0);
    } else if (a == "--version") {
      std::cout << program << ' ' << version() << '\n';
      std::cout.flush();
      std::exit(0);
    } else if (a == "--check-config") {
      cli.check_config = true;
    } else if (a == "--config" || a == "-c") {
      if (i + 1 >= argc) usage_error(program, usage, std::string(a) + " needs a path");
      set_config(argv[++i], a);
    } else if (a.starts_with("--config=")) {
      set_config(std::string(a.substr(9)), "--config=");
    } else {
      usage_error(program, usage, "unknown option '" + std::string(a) + "'");
    }
  }
  if (!config_given) cli.config_path = std::string(default_config);
  return cli;
}

int config_ok(const CommandLine& cli) {
  std::cout << cli.config_path << ": OK" << std::endl;
  return 0;
}

Runtime::Runtime() {
  const sigset_t set = handled_signals();
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  }
  signal_fd_ = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) throw std::system_error(errno, std::generic_category(), "signalfd");

  std::uint64_t usec = 0;
  // unset_environment=0: the variables name our pid, so children ignore them.
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_usec_ = std::chrono::microseconds(usec);
    const auto quarter = std::chrono::duration_cast<std::chrono::milliseconds>(watchdog_usec_ / 4);
    tick_ = std::clamp(quarter, std::chrono::milliseconds(1), std::chrono::milliseconds(1000));
  }
}

// The signals stay blocked: a second SIGTERM during the rest of shutdown must
// not kill the process half way through its cleanup.
Runtime::~Runtime() {
  if (signal_fd_ >= 0) ::close(signal_fd_);
}

void Runtime::handle_signals() {
  for (;;) {
    signalfd_siginfo si{};
    const ssize_t n = ::read(signal_fd_, &si, sizeof si);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof si)) return;  // EAGAIN: drained
    switch (si.ssi_signo) {
      case SIGTERM:
      case SIGINT: stopping_.store(true); break;
      case SIGHUP: reload_.store(true); break;
      default: break;
    }
  }
}

bool Runtime::take_reload() { return reload_.exchange(false); }

void Runtime::ready() { ::sd_notify(0, "READY=1"); }

void Runtime::reloading() {
  // MONOTONIC_USEC is required by Type=notify-reload (systemd 253+) and
  // ignored by older managers.
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL +
                    static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  const std::string msg = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
  ::sd_notify(0, msg.c_str());
}

void Runtime::status(std::string_view s) {
  // One line only: a newline would start a new assignment.
  std::string msg = "STATUS=";
  for (char c : s) msg += (c == '\n' ? ' ' : c);
  ::sd_notify(0, msg.c_str());
}

void Runtime::notify_stopping() { ::sd_notify(0, "STOPPING=1"); }

void Runtime::watchdog() {
  if (watchdog_usec_.count() == 0) return;
  const auto now = std::chrono::steady_clock::now();
  if (last_watchdog_ != std::chrono::steady_clock::time_point{} &&
      now - last_watchdog_ < watchdog_usec_ / 2) {
    return;
  }
  last_watchdog_ = now;
  ::sd_notify(0, "WATCHDOG=1");
}

void Runtime::pause(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stopping() && std::chrono::steady_clock::now() < until) {
    handle_signals();
    watchdog();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int run_command_line_tool(const CommandLine& cli, std::string_view usage,
                          const std::function<bool(const std::string&)>& is_command,
                          const std::function<int()>& run) {
  if (cli.args.empty() || !is_command(cli.args[0])) {
    std::cerr << cli.program << ": unknown command '" << (cli.args.empty() ? "" : cli.args[0])
              << "'\n"
              << usage;
    return 2;
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::cerr << cli.program << ": " << e.what() << '\n';
    return 1;
  }
}

int run_daemon(const CommandLine& cli, const std::string& log_level,
               const std::function<int(Runtime&)>& run) {
  log::init(cli.program, log_level);
  Runtime rt;
  try {
    return run(rt);
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
}

}  // namespace eck
