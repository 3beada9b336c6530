// ReplayClient: the client side of the broker's replay dialogue (see
// eck/wire.h and docs/PROTOCOL.md). Internal to libeck: eck::Follower
// (eck/follower.h) owns one and is the public face of replay.
//
// It owns the DEALER socket and knows which request is current: every
// request gets a fresh request_id, and replies carrying another one (answers
// to a request that timed out or was abandoned) are dropped here, so the
// caller only ever sees the current stream.
//
// Not thread-safe: one thread owns it (and its socket).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <zmq.hpp>

#include "eck/wire.h"

namespace eck::detail {

struct ReplayEvent {
  std::string topic;
  wire::Meta meta;
  std::string envelope;
};
struct ReplayEnd {
  std::uint64_t scanned_to = 0;
  std::uint64_t head_seq = 0;
};
struct ReplayError {
  std::string code;  // as sent; see wire::parse_code
  std::string reason;
};
// A reply for the current request that does not follow the protocol. The
// stream can no longer be trusted to be complete.
struct ReplayMalformed {
  std::string what;
};
using ReplayReply = std::variant<ReplayEvent, ReplayEnd, ReplayError, ReplayMalformed>;

class ReplayClient {
 public:
  // `name` goes into request ids, which makes them readable in broker logs.
  ReplayClient(zmq::context_t& ctx, const std::string& endpoint, std::string name);

  // Starts a new request for events with seq >= from_seq on the prefixes
  // (empty: all topics). Returns false, with no request outstanding, when no
  // broker is connected (the socket has ZMQ_IMMEDIATE set, so nothing is
  // queued for a dead peer).
  bool request(std::uint64_t from_seq, std::uint32_t max_events,
               const std::vector<std::string>& prefixes);

  // Forgets the current request; its late replies will be dropped.
  void cancel() { current_.clear(); }
  bool outstanding() const { return !current_.empty(); }
  std::uint64_t from_seq() const { return from_; }

  // The next reply to the current request, if one is waiting. END, ERROR and
  // malformed replies end the request (outstanding() turns false).
  std::optional<ReplayReply> next();

  zmq::socket_t& socket() { return sock_; }

 private:
  zmq::socket_t sock_;
  std::string name_;
  std::uint64_t counter_ = 0;
  std::string current_;  // request_id of the outstanding request, empty if none
  std::uint64_t from_ = 0;
};

}  // namespace eck::detail
