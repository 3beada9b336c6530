// eck daemons that a scenario starts itself (startup: the broker; the
// inventory scenarios: eck-inventory), and what /proc says about them.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "bench.h"
#include "notify_socket.h"

namespace eck::bench {

// A spawned process; its stdout goes to our stderr (stdout carries only
// summary lines). SIGKILLed and reaped on destruction if still running.
class Child {
 public:
  Child(const std::string& binary, const std::vector<std::string>& args,
        const std::vector<std::string>& extra_env);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // The waitpid status once exited (reaps it), else nullopt after `timeout`.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// 128 + signal for a child killed by a signal, like a shell.
int exit_code(int status);

// A "Key:" line of /proc/<pid>/status in kB (VmRSS, VmHWM); -1 when unreadable.
std::int64_t proc_status_kb(pid_t pid, std::string_view key);
// User + system CPU time of a process so far, in seconds; -1 when unreadable.
double process_cpu_seconds(pid_t pid);

std::int64_t ms_between(Clock::time_point a, Clock::time_point b);

// A fresh directory under the temporary directory, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// `binary --config CONFIG` started with NOTIFY_SOCKET pointing at our own
// socket; the constructor returns once it sent READY=1 and throws
// BenchError when it exits or stays silent for `ready_timeout` instead.
// From then on a thread reads (and drops) what the daemon sends there: an
// unread socket fills up after a few STATUS= lines, and then the daemon's
// sd_notify() blocks it.
class Daemon {
 public:
  Daemon(const std::string& binary, const std::string& config, std::chrono::seconds ready_timeout);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  pid_t pid() const { return child_.pid(); }
  const std::string& name() const { return name_; }  // the binary's file name
  Clock::time_point spawned_at() const { return spawned_at_; }
  Clock::time_point ready_at() const { return ready_at_; }
  // Throws BenchError when the daemon has exited (`while_doing` goes into the message).
  void check_running(std::string_view while_doing);
  // SIGTERM, then SIGKILL after `grace`; the exit code (-1 if never reaped).
  int stop(std::chrono::seconds grace);

 private:
  std::string name_;
  TempDir dir_;
  NotifySocket notify_;
  Clock::time_point spawned_at_;
  Child child_;
  Clock::time_point ready_at_;
  std::atomic<bool> stop_reading_{false};
  std::thread reader_;
};

}  // namespace eck::bench
