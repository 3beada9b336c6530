#include "daemon.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

extern char** environ;

namespace eck::bench {

Child::Child(const std::string& binary, const std::vector<std::string>& args,
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

Child::~Child() {
  if (!status_) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
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

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::int64_t proc_status_kb(pid_t pid, std::string_view key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line))
    if (line.size() > key.size() && line.compare(0, key.size(), key) == 0 && line[key.size()] == ':')
      return std::strtoll(line.c_str() + key.size() + 1, nullptr, 10);
  return -1;
}

double process_cpu_seconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  const auto close = stat.rfind(')');  // comm may hold spaces and parentheses
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string skip;
  long long utime = 0, stime = 0;
  for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt (fields 3-13)
  if (!(fields >> utime >> stime)) return -1;
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "eck-bench.XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw BenchError("mkdtemp: " + std::string(std::strerror(errno)));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

Daemon::Daemon(const std::string& binary, const std::string& config, std::chrono::seconds ready_timeout)
    : name_(std::filesystem::path(binary).filename().string()),
      notify_((dir_.path() / "notify").string()),
      spawned_at_(Clock::now()),
      child_(binary, {"--config", config}, {"NOTIFY_SOCKET=" + notify_.path()}) {
  std::optional<int> early;
  const bool ready = notify_.wait_for("READY=1", ready_timeout, [&] {
    return (early = child_.wait(std::chrono::milliseconds(0))).has_value();
  });
  if (!ready && early)
    throw BenchError(fmt::format("{} exited with status {} before READY=1", name_, exit_code(*early)));
  if (!ready)
    throw BenchError(fmt::format("{} did not send READY=1 within {} s (last STATUS: {})", name_,
                                 ready_timeout.count(), notify_.last_status()));
  ready_at_ = Clock::now();
  reader_ = std::thread([this] {
    const auto stop = [this] { return stop_reading_.load(); };
    while (!stop()) notify_.wait_for("\n(no such line)", std::chrono::seconds(1), stop);
  });
}

Daemon::~Daemon() {
  stop_reading_ = true;
  if (reader_.joinable()) reader_.join();
}

void Daemon::check_running(std::string_view while_doing) {
  if (auto st = child_.wait(std::chrono::milliseconds(0)))
    throw BenchError(fmt::format("{} exited with status {} {}", name_, exit_code(*st), while_doing));
}

int Daemon::stop(std::chrono::seconds grace) {
  ::kill(child_.pid(), SIGTERM);
  auto st = child_.wait(grace);
  if (!st) {
    fmt::print(stderr, "{} still running {} s after SIGTERM: SIGKILL\n", name_, grace.count());
    ::kill(child_.pid(), SIGKILL);
    st = child_.wait(std::chrono::seconds(10));
  }
  return st ? exit_code(*st) : -1;
}

}  // namespace eck::bench
