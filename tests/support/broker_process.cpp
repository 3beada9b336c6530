#include "broker_process.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <stdexcept>

#include <gtest/gtest.h>

namespace eck::test {

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

BrokerProcess::BrokerProcess(std::string database_url, BrokerOptions opts)
    : dir_("eck-broker"), url_(std::move(database_url)), opts_(std::move(opts)) {
  std::ofstream cfg(config_path());
  cfg << "log:\n  level: " << opts_.log_level << "\n"
      << "database:\n  url: \"" << url_ << "\"\n"
      << "broker:\n  ingest: \"" << ingest() << "\"\n  fanout: \"" << fanout() << "\"\n  replay: \""
      << replay() << "\"\n"
      << opts_.extra_yaml;
}

BrokerProcess::~BrokerProcess() = default;

void BrokerProcess::start() {
  if (proc_ && proc_->running()) throw std::logic_error("broker already running");
  notify_.reset();
  notify_ = std::make_unique<NotifySocket>(dir_.file("notify"));
  proc_ = std::make_unique<ChildProcess>(build_dir() + "/broker/eck-broker",
                                         std::vector<std::string>{"--config", config_path()},
                                         dir_.file("broker.log"),
                                         ChildProcess::Env{{"NOTIFY_SOCKET", notify_->path()}});
  if (!notify_->wait_for("READY=1", std::chrono::seconds(30))) {
    ADD_FAILURE() << "broker did not become ready; log:\n" << log();
    throw std::runtime_error("broker did not become ready");
  }
}

void BrokerProcess::kill(int sig) {
  if (proc_) {
    proc_->kill(sig);
    proc_->wait_exit(std::chrono::seconds(30));
  }
}

int BrokerProcess::stop() { return proc_ ? proc_->stop() : 0; }

bool BrokerProcess::running() { return proc_ && proc_->running(); }

std::string BrokerProcess::log() const { return proc_ ? proc_->log_contents() : std::string(); }

}  // namespace eck::test
