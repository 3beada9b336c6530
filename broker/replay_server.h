// Replay endpoint: serves journal ranges by topic prefix (docs/PROTOCOL.md,
// "Replay"). Runs on its own thread with its own ROUTER socket and its own
// database connection, so a consumer catching up on a long history never
// delays a publish acknowledgement.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "eck/db.h"

namespace eck::broker {

class ReplayServer {
 public:
  // Binds at construction so a bad endpoint fails start-up, not the thread.
  ReplayServer(zmq::context_t& ctx, const std::string& endpoint, DatabaseOptions db);
  ~ReplayServer();  // stop()s
  ReplayServer(const ReplayServer&) = delete;
  ReplayServer& operator=(const ReplayServer&) = delete;

  void start();
  void stop();
  std::uint64_t requests_served() const { return served_.load(); }

  // Seqs examined per request at most, so a rare prefix over a long journal
  // is answered in bounded time (the client asks again from scanned_to + 1).
  static constexpr std::uint64_t kScanWindow = 200000;

 private:
  void run();
  void serve(const std::string& peer, const std::vector<zmq::message_t>& frames);

  zmq::socket_t sock_;
  Database db_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> served_{0};
};

}  // namespace eck::broker
