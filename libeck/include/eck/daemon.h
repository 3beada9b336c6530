// The daemon runtime every eck daemon shares: command line, signals and the
// systemd notify protocol.
//
//   int main(int argc, char** argv) {
//     auto cli = eck::parse_command_line(argc, argv, "eck-broker", "usage text");
//     auto cfg = load_config(cli.config_path);  // throws ConfigError
//     if (cli.check_config) return eck::config_ok(cli);
//     eck::Runtime rt;                           // before any thread starts
//     ... start sockets, run migrations ...
//     rt.ready();
//     while (!rt.stopping()) { poll(..., rt.signal_fd()); rt.handle_signals(); rt.watchdog(); }
//     rt.notify_stopping();
//   }
#pragma once

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace eck {

struct CommandLine {
  std::string program;              // "eck-broker"
  std::string config_path;          // --config PATH | --config=PATH | -c PATH
  bool check_config = false;        // --check-config
  std::vector<std::string> args;    // positional arguments (subcommands)
};

// Options may come before or after a subcommand (the first positional);
// after it, options other than the ones below are passed on in `args` for
// the subcommand to parse (eck::Args), so "eck-inventory levels --sku X" works.
// Handles --version (prints "<program> <version>" and exits 0) and --help
// (prints usage and exits 0). Unknown options print a clear error and the
// usage to stderr and exit 2, as do a missing or empty --config value and
// --config given twice. "--" ends the options; "-" is a positional.
// `default_config` is used when --config is absent.
CommandLine parse_command_line(int argc, char** argv, std::string_view program,
                               std::string_view usage, std::string_view default_config);

// Prints "<config>: OK" and returns 0: the tail of every --check-config path.
int config_ok(const CommandLine& cli);

// Loads the daemon's config with `load(path)`; on config::ConfigError prints
// "<program>: <error>" to stderr and exits 2 (what every main does first).
template <typename Load>
auto load_config_or_exit(const CommandLine& cli, Load&& load) -> decltype(load(cli.config_path));

// The command part of a daemon's main (e.g. "eck-inventory levels"):
// cli.args[0] must satisfy is_command (else the usage and exit 2); run()
// gives the exit code; an exception it throws (database unreachable ...) is
// printed as "<program>: <error>" and exits 1.
int run_command_line_tool(const CommandLine& cli, std::string_view usage,
                          const std::function<bool(const std::string&)>& is_command,
                          const std::function<int()>& run);

class Runtime;
// The daemon part of every main: logging at `log_level`, a Runtime, then
// run(rt); an escaping exception is logged as critical and exits 1.
int run_daemon(const CommandLine& cli, const std::string& log_level,
               const std::function<int(Runtime&)>& run);

const char* version();

// Owns signal handling and the sd_notify protocol for one process.
// Construct it in main() before starting any thread: it blocks SIGTERM,
// SIGINT and SIGHUP in the calling thread (threads started later inherit the
// mask) and delivers them through signal_fd(), which a zmq poll loop can
// watch. Not copyable; one per process. The signals stay blocked after
// destruction, so a second SIGTERM cannot kill the process half way through
// its shutdown. Throws std::system_error when signalfd cannot be set up.
class Runtime {
 public:
  Runtime();
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Readable when a signal is pending; call handle_signals() then.
  int signal_fd() const { return signal_fd_; }
  // Drains pending signals: SIGTERM/SIGINT set stopping(), SIGHUP sets a
  // reload request. Never blocks.
  void handle_signals();

  bool stopping() const { return stopping_.load(); }
  void request_stop() { stopping_.store(true); }
  // True once per SIGHUP.
  bool take_reload();

  // sd_notify wrappers; all are no-ops when not run by systemd.
  void ready();                     // READY=1 (after migrations and sockets)
  void reloading();                 // RELOADING=1
  void status(std::string_view s);  // STATUS=...
  void notify_stopping();           // STOPPING=1
  // WATCHDOG=1, rate-limited to half the WatchdogSec interval; call from the
  // main loop so a hung loop is what systemd notices.
  void watchdog();
  // Sleeps `d` in small steps, handling signals and watchdog pings, and
  // returns early once stopping() (a back-off that SIGTERM interrupts).
  void pause(std::chrono::milliseconds d);
  // How often the loop must come around for the watchdog (a quarter of
  // WatchdogSec, at most 1 s).
  std::chrono::milliseconds tick() const { return tick_; }

 private:
  int signal_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> reload_{false};
  std::chrono::microseconds watchdog_usec_{0};
  std::chrono::steady_clock::time_point last_watchdog_{};
  std::chrono::milliseconds tick_{1000};
};

template <typename Load>
auto load_config_or_exit(const CommandLine& cli, Load&& load) -> decltype(load(cli.config_path)) {
  try {
    return load(cli.config_path);
  } catch (const std::exception& e) {  // config::ConfigError, or a file that cannot be read
    std::cerr << cli.program << ": " << e.what() << '\n';
    std::exit(2);
  }
}

}  // namespace eck
