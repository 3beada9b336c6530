#include "support/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace eck::test {
namespace {

std::string required_env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::string msg = std::string(name) +
                      " is not set. The tests need the environment prepared by `./dev test` "
                      "(it builds, starts a throwaway PostgreSQL cluster and exports "
                      "ECK_TEST_PG_URL, ECK_PG_CLUSTER, ECK_PG_CLUSTER_DIR, ECK_BUILD_DIR and "
                      "ECK_SOURCE_DIR). Run `./dev test`, or `./dev test -R <regex>` for a subset.";
    std::fprintf(stderr, "eck test support: %s\n", msg.c_str());
    throw std::runtime_error(msg);
  }
  return v;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

}  // namespace

std::string build_dir() { return required_env("ECK_BUILD_DIR"); }
std::string source_dir() { return required_env("ECK_SOURCE_DIR"); }

// --- ChildProcess ---------------------------------------------------------------

ChildProcess::ChildProcess(std::string binary, std::vector<std::string> args,
                           std::string log_path, Env env)
    : binary_(std::move(binary)), log_path_(std::move(log_path)) {
  // argv
  std::vector<std::string> argv_s;
  argv_s.reserve(args.size() + 1);
  argv_s.push_back(binary_);
  for (auto& a : args) argv_s.push_back(std::move(a));
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  // envp: our environment, minus what `env` overrides, plus `env`.
  std::vector<std::string> env_s;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    bool overridden = false;
    for (const auto& [k, v] : env) {
      if (k == key) {
        overridden = true;
        break;
      }
    }
    if (!overridden) env_s.push_back(std::move(kv));
  }
  for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  std::unique_ptr<posix_spawn_file_actions_t, int (*)(posix_spawn_file_actions_t*)> fa_guard(
      &fa, posix_spawn_file_actions_destroy);
  std::unique_ptr<posix_spawnattr_t, int (*)(posix_spawnattr_t*)> attr_guard(
      &attr, posix_spawnattr_destroy);

  posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);

  // The test thread may block signals (a daemon runtime under test using
  // signalfd, say) or ignore some: the child must start with a clean slate,
  // or SIGTERM would not reach it.
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, binary_.c_str(), &fa, &attr, argv.data(), envp.data());
  if (rc != 0) {
    throw std::runtime_error("cannot start " + binary_ + ": " + std::strerror(rc) +
                             " (log: " + log_path_ + ")");
  }
  pid_ = pid;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) {
    ::kill(pid_, SIGKILL);
    int st = 0;
    while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }
}

void ChildProcess::kill(int sig) {
  if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

bool ChildProcess::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  if (r < 0 && errno == ECHILD) {
    // Reaped by someone else (a SIGCHLD handler of the code under test).
    status_ = -1;
    return false;
  }
  return true;
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int delay = 1;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    sleep_ms(delay);
    delay = std::min(delay * 2, 20);
  }
  return status_;
}

int ChildProcess::stop(std::chrono::milliseconds timeout) {
  kill(SIGTERM);
  if (auto st = wait_exit(timeout)) return *st;
  kill(SIGKILL);
  return *wait_exit(std::chrono::hours(1));
}

std::string ChildProcess::log_contents() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ChildProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool alive = running();
    if (log_contents().find(needle) != std::string::npos) return true;
    if (!alive) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    sleep_ms(20);
  }
}

std::string ChildProcess::describe_status(int status) {
  if (status == -1) return "reaped elsewhere (status unknown)";
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + " (SIG" + (name ? name : "?") + ")";
  }
  return "status " + std::to_string(status);
}

// --- TempDir --------------------------------------------------------------------

TempDir::TempDir(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  std::string tmpl = base + "/" + prefix + ".XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    throw std::runtime_error("mkdtemp(" + tmpl + "): " + std::strerror(errno));
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = std::getenv("ECK_KEEP_TEST_TMP");
  if (keep != nullptr && *keep != '\0' && std::string(keep) != "0") {
    std::fprintf(stderr, "eck test support: keeping %s (ECK_KEEP_TEST_TMP)\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) {
    std::fprintf(stderr, "eck test support: cannot remove %s: %s\n", path_.c_str(),
                 ec.message().c_str());
  }
}

std::string TempDir::file(const std::string& name) const { return path_ + "/" + name; }

std::string temp_dir() {
  static std::mutex mu;
  static std::vector<std::unique_ptr<TempDir>> dirs;  // destroyed at exit: removes them
  std::lock_guard<std::mutex> lock(mu);
  dirs.push_back(std::make_unique<TempDir>());
  return dirs.back()->path();
}

}  // namespace eck::test
