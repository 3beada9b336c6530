// A unix datagram socket that receives sd_notify messages (READY=1,
// STATUS=...) from a child started with NOTIFY_SOCKET=<path>.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace eck::bench {

class NotifySocket {
 public:
  explicit NotifySocket(std::string path);  // throws std::runtime_error
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return path_; }
  // Waits for a datagram with a line equal to `line`. Other lines are
  // dropped, except that the last STATUS= value is kept. Returns false on
  // timeout or as soon as `give_up()` (checked every 50 ms) returns true.
  bool wait_for(const std::string& line, std::chrono::milliseconds timeout,
                const std::function<bool()>& give_up = {});
  const std::string& last_status() const { return status_; }

 private:
  std::string path_;
  std::string status_;
  int fd_ = -1;
};

}  // namespace eck::bench
