// Publisher: puts events into the broker's journal.
//
// Guarantees, for every publish() whose future (or callback) reports an Ack:
// the event is committed in the journal under Ack::seq. Until then the
// Publisher keeps trying, always with the same event_id, so the broker's
// permanent dedupe turns every retry into the original acknowledgement.
//
// With a spool (PublisherOptions::spool_path) publish() first writes the
// event to a local SQLite file (synchronous=FULL) and only then returns, so a
// till keeps selling while the broker is unreachable, and events still
// unacknowledged when the process dies are sent again by the next Publisher
// opened on the same file. SQLite is used because Debian ships it, it is
// crash-safe by design, and the spool is one small table: no custom log
// format to get wrong.
//
// How: one internal I/O thread owns the DEALER socket; publish() hands it
// the serialized envelope through a mutex-protected queue and an eventfd.
// At most `window` events are on the wire unanswered; an event unanswered
// for ack_timeout is sent again, byte for byte; an UNAVAILABLE NACK is sent
// again after retry_backoff; every other NACK is final. The socket has
// ZMQ_IMMEDIATE set, so nothing is queued for a broker that is not
// connected, and ZeroMQ reconnects by itself (every 100 ms, backing off to
// 2 s).
//
// Order: events are sent in publish() order, and journaled in that order
// while nothing goes wrong. A retry (timeout, UNAVAILABLE) can journal an
// event after ones published later; use window = 1 where that matters.
//
// Thread-safety: publish(), flush() and pending() may be called from any
// thread. Callbacks and future completions happen on the I/O thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>

#include "eck/v1/envelope.pb.h"
#include "eck/wire.h"

namespace eck {

struct Ack {
  std::string event_id;
  std::uint64_t seq = 0;
  bool duplicate = false;  // the broker had this event_id already
};

// The broker refused the event for good (never for UNAVAILABLE: that is
// retried). A NACK code this client does not know is reported as
// kBadCommand with the code's text at the start of reason().
class PublishError : public std::runtime_error {
 public:
  PublishError(std::string event_id, wire::Code code, std::string reason);
  const std::string& event_id() const { return event_id_; }
  wire::Code code() const { return code_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string event_id_;
  wire::Code code_;
  std::string reason_;
};

struct PublisherOptions {
  std::string endpoint = "tcp://127.0.0.1:5570";  // broker ingest
  std::size_t window = 1000;                       // max events sent and not yet answered
  std::chrono::milliseconds ack_timeout{2000};     // resend when unanswered this long
  std::chrono::milliseconds retry_backoff{200};    // wait after UNAVAILABLE before resending
  std::string spool_path;                          // SQLite file; empty: no spool
  std::string source;                              // Envelope.source when the caller left it empty
};

class Publisher {
 public:
  using Callback = std::function<void(const Ack* ack, const PublishError* err)>;

  // Opens the spool (throws std::runtime_error if it cannot), connects
  // (throws zmq::error_t for a malformed endpoint; an unreachable broker is
  // fine) and starts the I/O thread; spooled events of an earlier run are sent first, in their
  // original order. Nobody is told about their answers (their publisher is
  // gone): acks are silent, final NACKs are logged as errors.
  explicit Publisher(PublisherOptions opts);
  // Stops the I/O thread without waiting for acks: call flush() first to
  // deliver. Unacked events stay in the spool, if there is one; without one
  // they are gone, their futures fail with std::future_error
  // (broken_promise) and their callbacks are never called.
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Completes the envelope (eck::complete_envelope: event_id, type,
  // occurred_at, source) and queues it. Throws std::invalid_argument for an
  // envelope without payload. With a spool, returns only once the event is
  // on disk (throws std::runtime_error if it cannot be written) and never
  // blocks on the broker. Without one, blocks while `window` events are in
  // flight and as many again wait (backpressure). The future throws
  // PublishError on a NACK that is not retryable.
  //
  // Publishing an event_id that is still unanswered sends it once and
  // reports to both callers; publishing it again later is answered by the
  // broker as a duplicate with the original seq.
  std::future<Ack> publish(v1::Envelope env);
  // Same, reporting through a callback run on the I/O thread (keep it short;
  // it may be empty). Exactly one of ack and err is non-null. Returns the
  // event_id.
  std::string publish(v1::Envelope env, Callback cb);

  // Waits until nothing is queued or in flight: every event answered, its
  // future or callback completed, and (with a spool) removed from the spool.
  // False on timeout.
  bool flush(std::chrono::milliseconds timeout);

  // Events queued or in flight (spooled ones included).
  std::size_t pending() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eck
