#include "notify_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace eck::bench {

NotifySocket::NotifySocket(std::string path) : path_(std::move(path)) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) throw std::runtime_error("notify socket path too long: " + path_);
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX): " + std::string(std::strerror(errno)));
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  ::unlink(path_.c_str());
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    ::close(fd_);
    throw std::runtime_error("bind " + path_ + ": " + std::strerror(err));
  }
}

NotifySocket::~NotifySocket() {
  ::close(fd_);
  ::unlink(path_.c_str());
}

bool NotifySocket::wait_for(const std::string& line, std::chrono::milliseconds timeout,
                            const std::function<bool()>& give_up) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    if (give_up && give_up()) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 50))) <= 0) continue;
    const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) continue;
    const std::string msg(buf, static_cast<std::size_t>(n));
    bool found = false;
    std::size_t pos = 0;
    while (pos < msg.size()) {
      auto nl = msg.find('\n', pos);
      if (nl == std::string::npos) nl = msg.size();
      const std::string one = msg.substr(pos, nl - pos);
      if (one == line) found = true;
      if (one.rfind("STATUS=", 0) == 0) status_ = one.substr(7);
      pos = nl + 1;
    }
    if (found) return true;
  }
}

}  // namespace eck::bench
