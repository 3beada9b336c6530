// eck daemon runtime: command line, signals through signalfd, sd_notify.
#include "eck/daemon.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"

namespace {

using namespace std::chrono_literals;

constexpr const char* kUsage = "Usage: eck-test [--config PATH] [--check-config]\n";
constexpr const char* kDefault = "/etc/eck/test.yaml";

eck::CommandLine parse(std::initializer_list<const char*> args) {
  std::vector<std::string> storage{"eck-test"};
  for (const char* a : args) storage.emplace_back(a);
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  return eck::parse_command_line(static_cast<int>(storage.size()), argv.data(), "eck-test",
                                 kUsage, kDefault);
}

// --- command line ---------------------------------------------------------------

TEST(CommandLine, Defaults) {
  const auto cli = parse({});
  EXPECT_EQ(cli.program, "eck-test");
  EXPECT_EQ(cli.config_path, kDefault);
  EXPECT_FALSE(cli.check_config);
  EXPECT_TRUE(cli.args.empty());
}

TEST(CommandLine, ConfigSpellings) {
  EXPECT_EQ(parse({"--config", "/tmp/a.yaml"}).config_path, "/tmp/a.yaml");
  EXPECT_EQ(parse({"--config=/tmp/b.yaml"}).config_path, "/tmp/b.yaml");
  EXPECT_EQ(parse({"-c", "c.yaml"}).config_path, "c.yaml");
  const auto cli = parse({"--check-config", "--config", "x.yaml"});
  EXPECT_TRUE(cli.check_config);
  EXPECT_EQ(cli.config_path, "x.yaml");
}

TEST(CommandLine, Positionals) {
  const auto cli = parse({"replay", "--config=a.yaml", "42", "-", "--", "--not-an-option", "-c"});
  EXPECT_EQ(cli.config_path, "a.yaml");
  EXPECT_EQ(cli.args, (std::vector<std::string>{"replay", "42", "-", "--not-an-option", "-c"}));
}

TEST(CommandLineDeathTest, HelpAndVersionExitZero) {
  EXPECT_EXIT(parse({"--help"}), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(parse({"-h"}), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(parse({"--version"}), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(parse({"--config", "x", "--version"}), ::testing::ExitedWithCode(0), "");
}

TEST(CommandLine, VersionPrintsProgramAndVersion) {
  // Checked in a forked child because --version exits; its stdout is a pipe.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    parse({"--version"});
    ::_exit(99);
  }
  ::close(fds[1]);
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(out, std::string("eck-test ") + eck::version() + "\n");
}

TEST(CommandLineDeathTest, GarbageExitsTwoWithAReason) {
  const auto two = ::testing::ExitedWithCode(2);
  EXPECT_EXIT(parse({"--bogus"}), two, "eck-test: unknown option '--bogus'.*Usage: eck-test");
  EXPECT_EXIT(parse({"-x"}), two, "unknown option '-x'");
  EXPECT_EXIT(parse({"--CONFIG", "a"}), two, "unknown option '--CONFIG'");
  EXPECT_EXIT(parse({"--check-config=yes"}), two, "unknown option '--check-config=yes'");
  EXPECT_EXIT(parse({"--config"}), two, "--config needs a path");
  EXPECT_EXIT(parse({"--config="}), two, "--config= needs a path");
  EXPECT_EXIT(parse({"--config", ""}), two, "needs a path");
  EXPECT_EXIT(parse({"--config", "a", "--config=b"}), two, "--config given more than once");
  EXPECT_EXIT(parse({"--\xff\xfe"}), two, "unknown option");
  EXPECT_EXIT(parse({"---"}), two, "unknown option '---'");
}

TEST(CommandLine, ConfigOkPrintsAndReturnsZero) {
  const auto cli = parse({"--check-config", "--config", "/etc/eck/x.yaml"});
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(eck::config_ok(cli), 0);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "/etc/eck/x.yaml: OK\n");
}

// --- signals --------------------------------------------------------------------

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1 && (p.revents & POLLIN);
}

TEST(Runtime, SigtermArrivesThroughSignalFd) {
  eck::Runtime rt;
  ASSERT_GE(rt.signal_fd(), 0);
  EXPECT_FALSE(rt.stopping());
  EXPECT_FALSE(readable(rt.signal_fd(), 0ms));
  rt.handle_signals();  // nothing pending: must not block
  EXPECT_FALSE(rt.stopping());

  // raise() targets this thread, which has the signals blocked.
  ASSERT_EQ(::raise(SIGTERM), 0);
  ASSERT_TRUE(readable(rt.signal_fd(), 1000ms));
  rt.handle_signals();
  EXPECT_TRUE(rt.stopping());
  EXPECT_FALSE(readable(rt.signal_fd(), 0ms));  // drained
}

TEST(Runtime, SigintStopsAndSighupRequestsReload) {
  eck::Runtime rt;
  ASSERT_EQ(::raise(SIGHUP), 0);
  ASSERT_TRUE(readable(rt.signal_fd(), 1000ms));
  rt.handle_signals();
  EXPECT_FALSE(rt.stopping());
  EXPECT_TRUE(rt.take_reload());
  EXPECT_FALSE(rt.take_reload());  // once per SIGHUP

  ASSERT_EQ(::raise(SIGINT), 0);
  ASSERT_TRUE(readable(rt.signal_fd(), 1000ms));
  rt.handle_signals();
  EXPECT_TRUE(rt.stopping());
}

TEST(Runtime, RequestStop) {
  eck::Runtime rt;
  rt.request_stop();
  EXPECT_TRUE(rt.stopping());
}

TEST(RuntimeDeathTest, ProcessSigtermDoesNotKillButStops) {
  // kill(getpid()) is process-directed, as from systemd; the forked child
  // has one thread, so the blocked mask decides its fate.
  EXPECT_EXIT(
      {
        eck::Runtime rt;
        ::kill(::getpid(), SIGTERM);
        if (!readable(rt.signal_fd(), 2000ms)) ::_exit(3);
        rt.handle_signals();
        ::_exit(rt.stopping() ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

// --- sd_notify ------------------------------------------------------------------

// A NOTIFY_SOCKET listener standing in for systemd.
class FakeSystemd {
 public:
  explicit FakeSystemd(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
    }
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~FakeSystemd() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd_);
  }
  // The next datagram, or "" when none arrives within `timeout`.
  std::string next(std::chrono::milliseconds timeout = 1000ms) {
    if (!readable(fd_, timeout)) return "";
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }

 private:
  int fd_ = -1;
};

TEST(Runtime, NotifiesSystemd) {
  eck::test::TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  eck::Runtime rt;
  rt.ready();
  EXPECT_EQ(systemd.next(), "READY=1");
  rt.status("migrating\nschema");
  EXPECT_EQ(systemd.next(), "STATUS=migrating schema");
  rt.reloading();
  EXPECT_EQ(systemd.next().rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u);
  rt.notify_stopping();
  EXPECT_EQ(systemd.next(), "STOPPING=1");
  // No watchdog configured: watchdog() sends nothing, the loop ticks at 1 s.
  rt.watchdog();
  EXPECT_EQ(systemd.next(50ms), "");
  EXPECT_EQ(rt.tick(), 1000ms);
}

TEST(Runtime, WatchdogPingsAtHalfTheInterval) {
  eck::test::TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  ::setenv("WATCHDOG_USEC", "400000", 1);  // 400 ms
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  eck::Runtime rt;
  EXPECT_EQ(rt.tick(), 100ms);
  rt.watchdog();
  EXPECT_EQ(systemd.next(), "WATCHDOG=1");
  rt.watchdog();  // too soon: rate-limited
  EXPECT_EQ(systemd.next(50ms), "");
  std::this_thread::sleep_for(250ms);
  rt.watchdog();
  EXPECT_EQ(systemd.next(), "WATCHDOG=1");
}

TEST(Runtime, WatchdogForAnotherPidIsIgnored) {
  eck::test::TempDir dir;
  FakeSystemd systemd(dir.file("notify"));
  ::setenv("WATCHDOG_USEC", "400000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);  // meant for some other process
  eck::Runtime rt;
  EXPECT_EQ(rt.tick(), 1000ms);
  rt.watchdog();
  EXPECT_EQ(systemd.next(50ms), "");
}

TEST(Runtime, LongWatchdogTicksAtMostOnceASecond) {
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  eck::Runtime rt;
  ::unsetenv("WATCHDOG_USEC");
  ::unsetenv("WATCHDOG_PID");
  EXPECT_EQ(rt.tick(), 1000ms);
  rt.watchdog();  // no NOTIFY_SOCKET: a no-op, not an error
}

TEST(Runtime, NotifyWithoutSystemdIsANoOp) {
  ::unsetenv("NOTIFY_SOCKET");
  eck::Runtime rt;
  rt.ready();
  rt.status("x");
  rt.reloading();
  rt.notify_stopping();
  rt.watchdog();
  SUCCEED();
}

}  // namespace
