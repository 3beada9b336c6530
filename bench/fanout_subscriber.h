// A SUB socket on the broker's fan-out, read by a thread of its own: every
// event of a topic prefix is decoded and handed to a handler together with
// the moment it was received (ahead of decoding).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include <zmq.hpp>

#include "bench.h"

namespace eck::bench {

class FanoutSubscriber {
 public:
  // Runs on the subscriber's thread.
  using Handler = std::function<void(const v1::Envelope& env, Clock::time_point received)>;

  FanoutSubscriber(zmq::context_t& ctx, const std::string& endpoint, std::string_view topic, Handler on_event);
  ~FanoutSubscriber() { stop(); }
  FanoutSubscriber(const FanoutSubscriber&) = delete;
  FanoutSubscriber& operator=(const FanoutSubscriber&) = delete;

  // Joins the thread: what the handler wrote is the caller's afterwards.
  void stop();
  std::uint64_t seen() const { return seen_.load(); }  // events handed to the handler
  std::uint64_t bad() const { return bad_.load(); }    // messages that did not decode

 private:
  void run();

  zmq::socket_t sock_;
  Handler on_event_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> seen_{0}, bad_{0};
};

}  // namespace eck::bench
