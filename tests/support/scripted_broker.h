// A scripted stand-in for the broker's fan-out and replay endpoints, for
// tests of clients that follow the journal (Follower, Consumer, eck-tap).
//
// It binds a real XPUB (live feed) and a real ROUTER (replay) on the given
// endpoints, keeps a journal and serves REPLAY from it faithfully (prefix
// filter, max_events, END with scanned_to and head), but the test decides
// what reaches the live feed, so lost messages, lost tails, duplicates,
// stale or missing replay answers and garbage can be produced on purpose.
//
//   eck::test::ScriptedBroker b("ipc://" + tmp.file("fanout"), "ipc://" + tmp.file("replay"));
//   b.append(envelope);                 // journaled and sent live
//   b.append(envelope, /*live=*/false); // journaled only: the live feed "lost" it
//   b.heartbeat();                      // head on the live feed
//
// Thread-safe: the sockets live on a thread of their own; the methods queue
// commands for it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "eck/v1/envelope.pb.h"

namespace eck::test {

class ScriptedBroker {
 public:
  using Frames = std::vector<std::string>;

  // Binds both endpoints before returning.
  ScriptedBroker(std::string fanout, std::string replay);
  ~ScriptedBroker();
  ScriptedBroker(const ScriptedBroker&) = delete;
  ScriptedBroker& operator=(const ScriptedBroker&) = delete;

  // Journals an event; with live=false it never reaches the live feed.
  // Returns its seq.
  std::uint64_t append(const std::string& topic, const std::string& bytes, bool live = true);
  std::uint64_t append(const v1::Envelope& env, bool live = true);
  // The live copy of an event once more (a duplicate).
  void resend_live(std::uint64_t seq);
  // Any message on the live feed.
  void live_raw(Frames frames);
  // A heartbeat with the current head. Without a journal id its payload is
  // empty (which decodes as an empty eck.v1.Heartbeat); with one it is a
  // Heartbeat carrying head_seq and journal_id.
  void heartbeat(const std::string& journal_id = {});
  // The next n replay requests get no answer.
  void ignore_requests(int n) { ignore_ = n; }
  // The next request is answered only after the one after it: its answer
  // arrives stale.
  void delay_next_request() { delay_ = true; }
  // Sent (to the requester, before the answer) in reply to the next request.
  void garbage_before_next_answer(std::vector<Frames> messages);

  int requests() const { return requests_; }
  // from_seq of the last request received, 0 before the first.
  std::uint64_t last_from() const { return last_from_; }
  // scanned_to of the last END sent, or -1 before the first.
  std::int64_t last_end() const { return last_end_; }
  // True once a subscriber has subscribed to anything.
  bool subscribed() const { return subscribed_; }
  std::uint64_t head() const;

 private:
  struct Row {
    std::uint64_t seq;
    std::string topic;
    std::uint64_t prev;
    std::string bytes;
  };
  struct Sockets {
    zmq::socket_t& pub;
    zmq::socket_t& router;
  };

  static std::string meta(const Row& r);
  static void send(zmq::socket_t& s, const Frames& frames);
  void run();
  void serve(zmq::socket_t& router, const std::vector<zmq::message_t>& f);

  std::string fanout_ep_, replay_ep_;
  std::atomic<bool> stop_{false};
  std::atomic<int> ignore_{0};
  std::atomic<bool> delay_{false};
  std::atomic<int> requests_{0};
  std::atomic<std::uint64_t> last_from_{0};
  std::atomic<std::int64_t> last_end_{-1};
  std::atomic<bool> subscribed_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool bound_ = false;
  std::vector<Row> journal_;
  std::map<std::string, std::uint64_t> topic_heads_;
  std::deque<std::function<void(Sockets&)>> commands_;
  std::vector<Frames> garbage_;
  std::thread thread_;
};

}  // namespace eck::test
