// Fan-out: the XPUB socket that sends every committed event, in sequence
// order, and the heartbeat. Owned by the ingest thread (the one that knows
// what committed), so there is no hand-off between commit and publish.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <zmq.hpp>

namespace eck::broker {

class Fanout {
 public:
  Fanout(zmq::context_t& ctx, const std::string& endpoint, int hwm);

  // [topic, meta(seq, prev_topic_seq), envelope]. Never blocks: a subscriber
  // whose queue is full misses the message and repairs the gap by replay.
  void publish(const std::string& topic, std::uint64_t seq, std::uint64_t prev_topic_seq,
               const std::string& envelope);

  void heartbeat(std::uint64_t head, const std::map<std::string, std::uint64_t>& topic_heads,
                 const std::string& journal_id, bool database_up);

  // Reads pending subscription messages (XPUB queues them) and returns how
  // many subscribe/unsubscribe notices it saw.
  int drain_subscriptions();

  zmq::socket_t& socket() { return sock_; }

 private:
  zmq::socket_t sock_;
};

}  // namespace eck::broker
