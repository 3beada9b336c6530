// Follower: every journal event of some topic prefixes, in sequence order,
// each handed out once, from a position on, whatever the live feed loses.
// The Consumer follows the journal with one (and adds the database side:
// stored position, batches, dead letters); eck-tap uses one on its own.
//
//   eck::FollowerOptions o;
//   o.topics = {"pos."};
//   eck::Follower f(o);
//   f.start(position);                       // or f.start_at_head()
//   std::deque<eck::FollowedEvent> ready;
//   while (running) {
//     f.poll(ready, std::chrono::milliseconds(200));
//     while (!ready.empty()) { use(ready.front()); ready.pop_front(); }
//   }
//
// Position. A position P is a journal sequence number: "following from P"
// hands out every journaled event with seq > P whose topic matches a prefix,
// in ascending seq, each exactly once, and nothing at or below P. P = 0
// starts at the beginning of the journal. considered() is how far that has
// got: every matching event with seq <= considered() has been handed out,
// and every other seq up to there did not match. It moves over non-matching
// seqs too, so a caller that stores its position can store considered()
// once it has dealt with everything poll() handed out (or, with events still
// pending, the seq of the first pending one minus 1).
//
// How (docs/PROTOCOL.md, "Catching up and following"): the SUB socket is
// connected and subscribed to every topic ("") first; replay from P + 1
// through the replay endpoint until an answer reaches the broker's head;
// then the live feed, each event exactly considered() + 1. Replay filters by
// prefix on the broker; live filters here, because the gap check needs the
// whole global sequence. Live is abandoned for replay on any doubt: a jump
// in the sequence, a heartbeat head past considered() (a lost tail), a
// matching live event whose envelope does not decode. Live events at or
// below considered() are duplicates and skipped. A replay answer (at most
// max_batch events, then END) is buffered and checked whole before any of it
// is handed out, so a stream that breaks off, has a hole (prev_topic_seq
// names an event that did not come) or ends before its last event is asked
// for again; answers to an abandoned request are dropped; a request
// unanswered for replay_timeout is sent again. Garbage from the peer (wrong
// frame counts, bad meta frames) is logged, throttled, and ignored.
//
// An event whose journaled envelope does not decode is still handed out, in
// its place, with `undecodable` set: what to do with it is the caller's
// business (the Consumer dead-letters it).
//
// Not thread-safe: one thread owns a Follower, its two ZeroMQ sockets and its
// context. Logs through spdlog's default logger as "follower <name>: ...".
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "eck/v1/envelope.pb.h"

namespace eck {

// One journal event.
struct Event {
  std::uint64_t seq = 0;
  std::uint64_t prev_topic_seq = 0;  // previous event of the same topic, 0 for the first
  std::string topic;
  v1::Envelope envelope;
  std::string raw;  // envelope bytes as journaled
};

// What poll() hands out.
struct FollowedEvent {
  Event event;
  // Empty, or why event.envelope is unusable (it does not decode as
  // eck.v1.Envelope; event.raw still has the journaled bytes).
  std::string undecodable;
  // Only with FollowerOptions::heartbeats: this is not an event but a
  // heartbeat as it came on the live feed. event.topic is "_eck.heartbeat",
  // event.seq the broker's head, event.raw the eck.v1.Heartbeat bytes,
  // event.envelope empty. Heartbeats do not move considered().
  bool heartbeat = false;
};

struct FollowerOptions {
  std::string fanout_endpoint = "tcp://127.0.0.1:5571";
  std::string replay_endpoint = "tcp://127.0.0.1:5572";
  std::vector<std::string> topics;  // topic prefixes; none (or "") means every topic
  std::string name = "follower";    // in replay request ids and log lines
  // Events per replay request and per poll() call at most (0 counts as 1;
  // replay requests are capped at 10,000 by the protocol).
  std::size_t max_batch = 1000;
  std::chrono::milliseconds replay_timeout{5000};  // resend a replay request after
  int rcvhwm = 100000;                             // live feed high-water mark (messages)
  // Also hand out every heartbeat read from the live feed (see
  // FollowedEvent::heartbeat). Heartbeats are not read while replaying.
  bool heartbeats = false;
};

struct FollowerStats {
  std::uint64_t gaps = 0;        // repairs started because the live feed lost something
  std::uint64_t duplicates = 0;  // live events at or below considered(), skipped
};

class Follower {
 public:
  // Connects nothing yet: connect() or start*() does.
  explicit Follower(FollowerOptions opts);
  ~Follower();
  Follower(const Follower&) = delete;
  Follower& operator=(const Follower&) = delete;

  // Creates and connects both sockets, once; later calls do nothing. Throws
  // zmq::error_t for an endpoint ZeroMQ cannot parse. Connecting early lets
  // the live feed queue up while the caller still looks for its position.
  void connect();

  // Follows from `position` (see above): the next events handed out are
  // those after it. May be called again at any time, e.g. when the caller's
  // stored position turned out to be elsewhere; a replay in progress is
  // abandoned and events not yet handed out are forgotten.
  void start(std::uint64_t position);

  // Follows from the broker's current head: only events committed from
  // about now on. The head comes from the first heartbeat or from a replay
  // answer, whichever arrives first; until then considered() is 0 and
  // caught_up() false, and nothing is handed out.
  void start_at_head();

  bool started() const;

  // Appends to `out`, in seq order, the events that are ready (at most
  // max_batch per call). Waits up to `wait` for something to happen when
  // nothing is ready; returns as soon as it appended anything or moved
  // considered(), when `wait` ran out (0: one pass, no waiting), or when a
  // signal interrupted the wait. Returns the number appended (heartbeats
  // included). Never throws for what the peer sends; throws
  // std::logic_error before start*().
  std::size_t poll(std::deque<FollowedEvent>& out, std::chrono::milliseconds wait);

  // Every matching event with seq <= considered() has been handed out.
  std::uint64_t considered() const;

  // True while following the live feed: a replay answer reached the head
  // (or the head was found, after start_at_head()) and no gap showed since.
  bool caught_up() const;

  // The journal id from the latest heartbeat that carried one; empty before.
  // It changes only when the broker's journal is recreated, which makes any
  // stored position meaningless (a warning is logged when it changes).
  const std::string& journal_id() const;

  FollowerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eck
