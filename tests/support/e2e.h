// Helpers for end-to-end tests that publish into a real broker
// (BrokerProcess) and wait for a real daemon to consume what they published.
//
//   eck::test::PublishAcks acks;
//   pub.publish(env, acks.callback());
//   ASSERT_TRUE(eck::test::wait_until([&] { return acks.acked(id); }, 60s));
//   auto p = eck::test::consumer_progress(su, "pos", "pos");   // position vs journal head
//   ASSERT_TRUE(eck::test::wait_until([&] { return eck::test::consumer_progress(su, "pos", "pos").done(); },
//                                     120s, 100ms)) << eck::test::log_tail(pos.log());
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "eck/publisher.h"

namespace eck::test {

// Polls `done` every `interval` until it holds (true) or `timeout` passed
// (false). Never a timing assertion: only a bound on waiting.
template <typename Pred>
bool wait_until(Pred done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(2)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(interval);
  }
  return true;
}

// The end of a daemon's log, for failure messages.
inline std::string log_tail(const std::string& log, std::size_t bytes = 4000) {
  return log.size() > bytes ? log.substr(log.size() - bytes) : log;
}

// What the broker answered to a Publisher's events (callbacks run on the
// publisher's I/O thread).
class PublishAcks {
 public:
  Publisher::Callback callback() {
    return [this](const Ack* ack, const PublishError* err) {
      std::lock_guard lock(mu_);
      if (err) {
        errors_.push_back(err->event_id() + ": " + err->reason());
        return;
      }
      seqs_[ack->event_id] = ack->seq;
      ++answered_;
      if (ack->duplicate) ++duplicates_;
    };
  }
  std::size_t answered() {
    std::lock_guard lock(mu_);
    return answered_;
  }
  // Acks the broker gave as "already journaled" (the same event_id again).
  std::size_t duplicates() {
    std::lock_guard lock(mu_);
    return duplicates_;
  }
  bool acked(const std::string& event_id) {
    std::lock_guard lock(mu_);
    return seqs_.contains(event_id);
  }
  // The journal seq of an acked event, 0 when not (yet) acked.
  std::uint64_t seq(const std::string& event_id) {
    std::lock_guard lock(mu_);
    auto it = seqs_.find(event_id);
    return it == seqs_.end() ? 0 : it->second;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::uint64_t> seqs_;
  std::size_t answered_ = 0;
  std::size_t duplicates_ = 0;
  std::vector<std::string> errors_;
};

// How far a daemon got: the position of its consumer in <schema>, the
// broker's head, and its outbox rows not relayed yet.
struct ConsumerProgress {
  std::int64_t head = 0;
  std::int64_t position = 0;
  std::int64_t unacked = 0;
  bool done() const { return position == head && unacked == 0; }
};

// `su` must see both the broker schema and <schema> (the superuser).
inline ConsumerProgress consumer_progress(pqxx::connection& su, const std::string& schema,
                                          const std::string& consumer) {
  pqxx::nontransaction tx(su);
  auto r = tx.exec_params1(
      "SELECT (SELECT coalesce(max(seq), 0) FROM broker.journal),"
      " (SELECT coalesce(max(position), 0) FROM " + tx.quote_name(schema) + ".consumer_position WHERE consumer = $1),"
      " (SELECT count(*) FROM " + tx.quote_name(schema) + ".outbox WHERE acked_seq IS NULL AND rejected IS NULL)",
      consumer);
  return {r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::int64_t>()};
}

inline std::ostream& operator<<(std::ostream& os, const ConsumerProgress& p) {
  return os << "position " << p.position << " of head " << p.head << ", " << p.unacked
            << " outbox rows unacked";
}

}  // namespace eck::test
