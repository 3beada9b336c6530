// startup: spawns a broker (or any eck daemon that speaks sd_notify) with
// NOTIFY_SOCKET pointing at our own socket; measures spawn -> READY=1, the
// resident set after an idle period, and SIGTERM -> exit.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench.h"
#include "notify_socket.h"

extern char** environ;

namespace eck::bench {
namespace {

class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args,
        const std::vector<std::string>& extra_env) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string_view v(*e);
      bool overridden = false;
      for (const auto& x : extra_env)
        if (v.substr(0, x.find('=') + 1) == std::string_view(x).substr(0, x.find('=') + 1)) overridden = true;
      if (!overridden) env.emplace_back(v);
    }
    env.insert(env.end(), extra_env.begin(), extra_env.end());
    std::vector<char*> envp, argv;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_s{binary};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    // The broker's log goes to our stderr: stdout carries only summary lines.
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const int rc = ::posix_spawn(&pid_, binary.c_str(), &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw BenchError("cannot start " + binary + ": " + std::strerror(rc));
  }
  ~Child() {
    if (!status_) {
      ::kill(pid_, SIGKILL);
      wait(std::chrono::seconds(10));
    }
  }
  pid_t pid() const { return pid_; }
  // The waitpid status once exited (reaps it), else nullopt after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!status_) {
      int st = 0;
      const pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_) status_ = st;
      else if (r < 0 && errno != EINTR) status_ = -1;
      else if (Clock::now() >= deadline) break;
      else std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return status_;
  }

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// 128 + signal for a child killed by a signal, like a shell.
int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::int64_t vm_rss_kb(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoll(line.c_str() + 6, nullptr, 10);
  return -1;
}

std::int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace

int run_startup(Args& args) {
  const auto broker = args.value("--broker");
  const auto config = args.value("--config");
  const auto idle = std::chrono::milliseconds(args.integer("--idle-ms", 0, 600000).value_or(2000));
  const auto ready_timeout = std::chrono::seconds(args.integer("--timeout-s", 1, 3600).value_or(60));
  args.finish();
  if (!broker) throw UsageError("startup needs --broker PATH");
  if (!config) throw UsageError("startup needs --config FILE");
  if (::access(broker->c_str(), X_OK) != 0) throw UsageError("--broker " + *broker + " is not an executable file");

  std::string tmpl = (std::filesystem::temp_directory_path() / "eck-bench.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw BenchError("mkdtemp: " + std::string(std::strerror(errno)));
  const std::filesystem::path dir(tmpl);
  struct Cleanup {
    std::filesystem::path d;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};

  NotifySocket notify((dir / "notify").string());
  const std::string basename = std::filesystem::path(*broker).filename().string();
  const auto t0 = Clock::now();
  Child child(*broker, {"--config", *config}, {"NOTIFY_SOCKET=" + notify.path()});
  std::optional<int> early;
  if (!notify.wait_for("READY=1", ready_timeout, [&] { return (early = child.wait(std::chrono::milliseconds(0))).has_value(); })) {
    if (early)
      throw BenchError(fmt::format("{} exited with status {} before READY=1", basename, exit_code(*early)));
    throw BenchError(fmt::format("{} did not send READY=1 within {} s (last STATUS: {})", basename,
                                 ready_timeout.count(), notify.last_status()));
  }
  const auto t_ready = Clock::now();
  fmt::print(stderr, "startup: {} ready after {} ms\n", basename, ms_between(t0, t_ready));
  if (auto st = child.wait(idle))
    throw BenchError(fmt::format("{} exited with status {} while idle", basename, exit_code(*st)));
  const auto rss = vm_rss_kb(child.pid());
  const auto t_term = Clock::now();
  ::kill(child.pid(), SIGTERM);
  auto st = child.wait(std::chrono::seconds(30));
  const auto t_exit = Clock::now();
  if (!st) {
    fmt::print(stderr, "startup: {} still running 30 s after SIGTERM: SIGKILL\n", basename);
    ::kill(child.pid(), SIGKILL);
    st = child.wait(std::chrono::seconds(10));
  }
  const int code = st ? exit_code(*st) : -1;
  Summary("startup")
      .add("binary", basename)
      .add("ready_ms", ms_between(t0, t_ready))
      .add("idle_rss_kb", rss)
      .add("stop_ms", ms_between(t_term, t_exit))
      .add("exit_code", code)
      .print();
  return code == 0 ? 0 : 1;
}

}  // namespace eck::bench
