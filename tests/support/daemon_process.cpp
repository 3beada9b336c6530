#include "daemon_process.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace eck::test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

// --- NotifySocket ----------------------------------------------------------------

NotifySocket::NotifySocket(std::string path) : path_(std::move(path)) {
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX): " + std::string(std::strerror(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) throw std::runtime_error("notify socket path too long");
  std::strcpy(addr.sun_path, path_.c_str());
  ::unlink(path_.c_str());
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error("bind " + path_ + ": " + std::strerror(errno));
}

NotifySocket::~NotifySocket() {
  if (fd_ >= 0) ::close(fd_);
  ::unlink(path_.c_str());
}

bool NotifySocket::wait_for(const std::string& line, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) continue;
    std::string msg(buf, static_cast<std::size_t>(n));
    std::size_t pos = 0;
    while (pos <= msg.size()) {
      auto nl = msg.find('\n', pos);
      if (msg.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos) == line) return true;
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  }
}

// --- configuration ---------------------------------------------------------------

std::string daemon_config_yaml(const std::string& log_level, const std::string& database_url,
                               const BusEndpoints& bus) {
  return "log:\n  level: " + log_level + "\n" +          //
         "database:\n  url: \"" + database_url + "\"\n" +  //
         "bus:\n  ingest: \"" + bus.ingest + "\"\n  fanout: \"" + bus.fanout +
         "\"\n  replay: \"" + bus.replay + "\"\n";
}

// --- DaemonProcess ---------------------------------------------------------------

DaemonProcess::DaemonProcess(std::string name, std::string binary)
    : name_(std::move(name)), binary_(std::move(binary)), dir_("eck-" + name_) {}

DaemonProcess::~DaemonProcess() = default;

std::string DaemonProcess::binary_path() const { return build_dir() + "/" + binary_; }

void DaemonProcess::write_config(const std::string& yaml) const {
  std::ofstream cfg(config_path());
  cfg << yaml;
  if (!cfg.flush()) throw std::runtime_error("cannot write " + config_path());
}

void DaemonProcess::start() {
  if (proc_ && proc_->running()) throw std::logic_error(name_ + " already running");
  // Only readiness is read. The socket goes away once READY came: a daemon
  // keeps sending STATUS and WATCHDOG, and sd_notify() blocks (the whole
  // main loop with it) on a socket whose queue nobody drains; without the
  // socket it fails at once and the daemon carries on.
  NotifySocket notify(dir_.file("notify"));
  proc_ = std::make_unique<ChildProcess>(binary_path(),
                                         std::vector<std::string>{"--config", config_path()},
                                         dir_.file(name_ + ".log"),
                                         ChildProcess::Env{{"NOTIFY_SOCKET", notify.path()}});
  if (!notify.wait_for("READY=1", std::chrono::seconds(30))) {
    ADD_FAILURE() << name_ << " did not become ready; log:\n" << log();
    throw std::runtime_error(name_ + " did not become ready");
  }
}

void DaemonProcess::kill(int sig) {
  if (proc_) {
    proc_->kill(sig);
    proc_->wait_exit(std::chrono::seconds(30));
  }
}

int DaemonProcess::stop() { return proc_ ? proc_->stop() : 0; }

bool DaemonProcess::running() { return proc_ && proc_->running(); }

std::string DaemonProcess::log() const { return proc_ ? proc_->log_contents() : std::string(); }

CommandResult DaemonProcess::run_command(const std::vector<std::string>& args,
                                         std::chrono::milliseconds timeout) {
  const std::string base = dir_.file("command-" + std::to_string(++commands_run_));
  const std::string out_path = base + ".out";
  const std::string err_path = base + ".err";
  // ChildProcess sends stdout and stderr to one file; a shell in between
  // keeps them apart, so stdout can be parsed whatever the log says.
  std::vector<std::string> argv{"-c", "exec \"$0\" \"$@\" 2>>\"$ECK_TEST_STDERR\"", binary_path(),
                                "--config", config_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess p("/bin/sh", std::move(argv), out_path,
                 ChildProcess::Env{{"ECK_TEST_STDERR", err_path}});
  CommandResult r;
  auto status = p.wait_exit(timeout);
  if (!status) {
    ADD_FAILURE() << binary_ << " command did not finish within " << timeout.count() << " ms";
    status = p.stop(std::chrono::milliseconds(0));
  }
  if (WIFEXITED(*status)) r.exit_code = WEXITSTATUS(*status);
  r.out = read_file(out_path);
  r.err = read_file(err_path);
  std::remove(out_path.c_str());
  std::remove(err_path.c_str());
  return r;
}

}  // namespace eck::test
