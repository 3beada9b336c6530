// Consumer: live feed + replay + a position stored with the effects.
//
// Three numbers drive everything:
//   stored_      the position in consumer_position, as far as we know;
//   considered_  the highest sequence we have looked at: every matching
//                event in (stored_, considered_] is waiting in ready_, in
//                order, and every other sequence in that range did not match;
//   ready_       those waiting events; apply() commits them in batches
//                (position = how far the batch covers) and advances stored_.
// After any database failure the position is read back before the next
// commit, which settles whether an ambiguous commit happened.
//
// Events enter ready_ only in sequence order, from one of two sources:
//   live   the SUB feed, while each event is exactly considered_ + 1;
//   replay a REPLAY request from considered_ + 1. A whole answer (at most
//          max_batch events, then END) is buffered and checked before any
//          of it is used, so a stream that breaks off or has a hole
//          (prev_topic_seq names an event we did not get) is asked for
//          again instead of being half-applied.
// Live is abandoned for replay on any doubt: a jump in the sequence, a
// heartbeat head past considered_, an undecodable message. While replaying
// the SUB socket is not read; ZeroMQ keeps buffering it, and whatever it holds
// at or below considered_ afterwards is dropped as a duplicate (zguide Clone).
#include "eck/consumer.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "db_trouble.h"
#include "eck/v1/wire.pb.h"
#include "eck/wire.h"
#include "replay_client.h"

namespace eck {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Positions over events that do not concern us are stored at most this often
// when nothing else needs a transaction.
constexpr milliseconds kIdleStoreInterval{1000};
// A replay stream that ended without progress, an ERROR, or no connected
// broker: ask again after this.
constexpr milliseconds kReplayRetry{200};
constexpr milliseconds kReplayErrorRetry{1000};
constexpr milliseconds kDbBackoffMin{100};
constexpr milliseconds kDbBackoffMax{5000};

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// A warning that repeats only every so often: a confused peer must not flood
// the journal.
class Throttled {
 public:
  explicit Throttled(milliseconds every) : every_(every) {}
  template <typename... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    auto now = Clock::now();
    ++suppressed_;
    if (now < next_) return;
    next_ = now + every_;
    if (suppressed_ > 1) spdlog::warn("consumer: ({} similar warnings)", suppressed_ - 1);
    suppressed_ = 0;
    spdlog::warn(fmt, std::forward<Args>(args)...);
  }

 private:
  milliseconds every_;
  Clock::time_point next_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace

struct Consumer::Impl {
  // An event waiting to be applied. `undecodable` events go to the dead
  // letter table without reaching the handler.
  struct Pending {
    Event ev;
    std::string undecodable;
    bool rejected = false;  // dead-lettered by the last attempt to apply it
  };
  enum class Mode { kReplay, kLive };
  enum class BatchOutcome { kCommitted, kHandlerFailed, kPositionMoved };

  ConsumerOptions opts;
  Database& db;
  Handler handler;

  zmq::context_t ctx{1};
  std::optional<zmq::socket_t> sub;
  std::optional<detail::ReplayClient> replay;

  bool loaded = false;  // stored_/considered_ valid
  std::uint64_t stored_ = 0;
  std::uint64_t considered_ = 0;
  std::deque<Pending> ready_;
  Clock::time_point last_store_{};

  Mode mode = Mode::kReplay;
  // The answer to the current replay request, checked before use.
  std::vector<Pending> answer_;
  std::uint64_t answer_last_ = 0;                                // highest seq in answer_
  std::unordered_map<std::string, std::uint64_t> answer_topic_;  // topic -> last seq in answer_
  Clock::time_point replay_activity_{};
  Clock::time_point replay_not_before_{};
  std::uint64_t hb_head_ = 0;  // highest heartbeat head since the feed was last drained
  std::string journal_id_;     // from heartbeats

  Clock::time_point db_retry_at_{};
  milliseconds db_backoff_ = kDbBackoffMin;

  mutable std::mutex stats_mu;
  ConsumerStats stats_;

  Throttled garbage_warn{milliseconds(10000)};
  Throttled behind_warn{milliseconds(60000)};

  Impl(ConsumerOptions o, Database& d, Handler h)
      : opts(std::move(o)), db(d), handler(std::move(h)) {
    if (opts.name.empty()) throw std::invalid_argument("consumer: empty name");
    if (!handler) throw std::invalid_argument("consumer: no handler");
    if (opts.max_batch == 0) opts.max_batch = 1;
  }

  template <typename F>
  void with_stats(F f) {
    std::lock_guard lock(stats_mu);
    f(stats_);
  }

  void connect() {
    if (sub) return;
    sub.emplace(ctx, zmq::socket_type::sub);
    sub->set(zmq::sockopt::linger, 0);
    sub->set(zmq::sockopt::rcvhwm, opts.rcvhwm);
    sub->set(zmq::sockopt::reconnect_ivl, 100);
    sub->set(zmq::sockopt::reconnect_ivl_max, 2000);
    sub->set(zmq::sockopt::heartbeat_ivl, 1000);
    sub->set(zmq::sockopt::heartbeat_timeout, 5000);
    // Everything: the gap check needs the whole global sequence.
    sub->set(zmq::sockopt::subscribe, "");
    sub->connect(opts.fanout_endpoint);
    replay.emplace(ctx, opts.replay_endpoint, opts.name);
  }

  // ---- the loop -----------------------------------------------------------

  void poll_once(milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    connect();
    // At least one turn, however small the budget.
    for (bool first = true;; first = false) {
      auto now = Clock::now();
      if (!first && now >= deadline) return;
      if (now < db_retry_at_) {
        // The database is away; reading more would only fill memory.
        std::this_thread::sleep_for(std::min(deadline, db_retry_at_) - now);
        continue;
      }
      if (!loaded) {
        load_position();
        continue;
      }
      bool got = mode == Mode::kReplay ? fill_from_replay(now) : fill_from_live();
      if (!ready_.empty() || store_due(now)) {
        apply();
        continue;
      }
      if (!got) wait(deadline);
    }
  }

  bool store_due(Clock::time_point now) const {
    return considered_ > stored_ && now - last_store_ >= kIdleStoreInterval;
  }

  // Blocks on the socket of the current source until something arrives, a
  // timer of ours runs out, or the deadline.
  void wait(Clock::time_point deadline) {
    auto until = deadline;
    if (considered_ > stored_) until = std::min(until, last_store_ + kIdleStoreInterval);
    zmq::pollitem_t item{};
    if (mode == Mode::kReplay) {
      if (!replay->outstanding())
        until = std::min(until, replay_not_before_);
      else
        until = std::min(until, replay_activity_ + opts.replay_timeout);
      item = {static_cast<void*>(replay->socket()), 0, ZMQ_POLLIN, 0};
    } else {
      item = {static_cast<void*>(*sub), 0, ZMQ_POLLIN, 0};
    }
    auto now = Clock::now();
    if (until <= now) return;
    auto ms = std::chrono::duration_cast<milliseconds>(until - now) + milliseconds(1);
    try {
      zmq::poll(&item, 1, ms);
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
    }
  }

  // ---- position -----------------------------------------------------------

  void load_position() {
    try {
      pqxx::work tx(db.connection(), "eck-consumer-load");
      tx.exec_params0(
          "INSERT INTO consumer_position (consumer, position) VALUES ($1, 0)"
          " ON CONFLICT (consumer) DO NOTHING",
          opts.name);
      auto r = tx.exec_params1("SELECT position FROM consumer_position WHERE consumer = $1",
                               opts.name);
      tx.commit();
      reconcile(r[0].as<std::uint64_t>());
      db_ok();
    } catch (const std::exception& e) {
      if (!detail::is_db_trouble(e)) throw;
      db_trouble(e);
    }
  }

  // The database says the position is p. The first time that is where we
  // start; after a failure it tells whether an ambiguous commit happened
  // (p moved to where the batch ended) or somebody else moved it.
  void reconcile(std::uint64_t p) {
    if (!loaded) {
      loaded = true;
      stored_ = considered_ = p;
      last_store_ = Clock::now();
      spdlog::info("consumer {}: starting after position {}", opts.name, p);
      start_replay();
      set_position_stat();
      return;
    }
    if (p == stored_) return;
    if (p > stored_ && p <= considered_) {
      while (!ready_.empty() && ready_.front().ev.seq <= p) ready_.pop_front();
      stored_ = p;
    } else {
      spdlog::warn(
          "consumer {}: position in the database is {}, expected {}; another instance running, or "
          "reset by hand? Continuing from {}",
          opts.name, p, stored_, p);
      stored_ = considered_ = p;
      ready_.clear();
      start_replay();
    }
    last_store_ = Clock::now();
    set_position_stat();
  }

  void set_position_stat() {
    std::uint64_t pos = ready_.empty() ? considered_ : ready_.front().ev.seq - 1;
    with_stats([&](ConsumerStats& s) { s.position = std::max(stored_, pos); });
  }

  void db_ok() { db_backoff_ = kDbBackoffMin; }

  void db_trouble(const std::exception& e) {
    spdlog::warn("consumer {}: database: {}; retrying in {} ms", opts.name, one_line(e.what()),
                 db_backoff_.count());
    db.reset();
    db_retry_at_ = Clock::now() + db_backoff_;
    db_backoff_ = std::min(db_backoff_ * 2, kDbBackoffMax);
    // The batch may or may not have committed: ask the database.
    needs_reload_ = true;
  }
  bool needs_reload_ = false;

  // ---- live ---------------------------------------------------------------

  // Reads what the feed has, up to a batch. True when it read anything.
  bool fill_from_live() {
    bool any = false;
    // Bounded so a firehose of duplicates cannot keep us here forever.
    for (std::size_t n = 0; n < opts.max_batch * 4 + 64; ++n) {
      if (ready_.size() >= opts.max_batch) return true;
      std::vector<zmq::message_t> f;
      zmq::recv_result_t got;
      try {
        got = zmq::recv_multipart(*sub, std::back_inserter(f), zmq::recv_flags::dontwait);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (!got) break;
      any = true;
      if (!take_live(f)) return true;  // switched to replay
    }
    if (mode == Mode::kLive && hb_head_ > considered_ && !sub_has_more()) {
      // The broker has committed events we never saw: a lost tail.
      gap("heartbeat head " + std::to_string(hb_head_) + " is past " + std::to_string(considered_));
      return true;
    }
    return any;
  }

  bool sub_has_more() {
    return (sub->get(zmq::sockopt::events) & ZMQ_POLLIN) != 0;
  }

  // False when it switched to replay.
  bool take_live(const std::vector<zmq::message_t>& f) {
    if (f.size() != 3) {
      garbage_warn.warn("consumer {}: ignoring live message with {} frames", opts.name, f.size());
      return true;
    }
    auto meta = wire::decode_meta(f[1].to_string_view());
    if (!meta) {
      // Its sequence is unknown, so whether it mattered is unknown: if it was
      // an event, the next one shows the gap.
      garbage_warn.warn("consumer {}: ignoring live message with a {}-byte meta frame", opts.name,
                        f[1].size());
      return true;
    }
    const auto topic = f[0].to_string_view();
    if (topic == wire::kHeartbeatTopic) {
      // The head is in the meta frame; the payload is read only to notice a
      // journal that was recreated under us (old heartbeats still queued
      // after a replay may carry a lower head, so the head cannot tell).
      v1::Heartbeat hb;
      if (hb.ParseFromArray(f[2].data(), static_cast<int>(f[2].size())) && !hb.journal_id().empty()) {
        if (!journal_id_.empty() && hb.journal_id() != journal_id_)
          behind_warn.warn(
              "consumer {}: the broker's journal id changed from {} to {}: the journal was "
              "recreated, and positions stored against the old one no longer mean anything",
              opts.name, journal_id_, hb.journal_id());
        journal_id_ = hb.journal_id();
      }
      hb_head_ = std::max(hb_head_, meta->seq);
      return true;
    }
    if (!topic.empty() && topic[0] == '_') return true;  // broker control, not an event
    const std::uint64_t seq = meta->seq;
    if (seq <= considered_) {
      with_stats([](ConsumerStats& s) { ++s.duplicates; });
      return true;
    }
    if (seq != considered_ + 1) {
      gap("live event " + std::to_string(seq) + " after " + std::to_string(considered_));
      return false;
    }
    if (wire::matches_any(topic, opts.topics)) {
      Pending p;
      p.ev.seq = seq;
      p.ev.prev_topic_seq = meta->prev_topic_seq;
      p.ev.topic = std::string(topic);
      p.ev.raw = f[2].to_string();
      if (!p.ev.envelope.ParseFromString(p.ev.raw)) {
        // Replay fetches it again; if it is undecodable there too, it goes
        // to the dead letters from there.
        gap("undecodable live envelope at " + std::to_string(seq));
        return false;
      }
      ready_.push_back(std::move(p));
    }
    considered_ = seq;
    return true;
  }

  void gap(const std::string& why) {
    spdlog::info("consumer {}: gap ({}); replaying from {}", opts.name, why, considered_ + 1);
    with_stats([](ConsumerStats& s) { ++s.gaps; });
    start_replay();
  }

  // ---- replay -------------------------------------------------------------

  void start_replay() {
    mode = Mode::kReplay;
    hb_head_ = 0;
    replay->cancel();
    drop_answer();
    replay_not_before_ = Clock::time_point{};
  }

  void drop_answer() {
    answer_.clear();
    answer_topic_.clear();
    answer_last_ = 0;
  }

  std::uint32_t request_size() const {
    return static_cast<std::uint32_t>(
        std::min<std::size_t>(opts.max_batch, wire::kMaxReplayBatch));
  }

  // Sends or resends the request when due and takes what arrived. True when
  // it made progress (the caller loops instead of waiting).
  bool fill_from_replay(Clock::time_point now) {
    // The answer is buffered whole; apply what is ready first.
    if (!ready_.empty()) return false;
    if (replay->outstanding() && now - replay_activity_ > opts.replay_timeout) {
      spdlog::warn("consumer {}: replay from {} unanswered for {} ms; asking again", opts.name,
                   replay->from_seq(), opts.replay_timeout.count());
      replay->cancel();
      drop_answer();
    }
    if (!replay->outstanding()) {
      if (now < replay_not_before_) return false;
      if (!replay->request(considered_ + 1, request_size(), opts.topics)) {
        replay_not_before_ = now + kReplayRetry;  // no broker connected yet
        return false;
      }
      replay_activity_ = now;
    }
    bool any = false;
    while (auto reply = replay->next()) {
      any = true;
      replay_activity_ = Clock::now();
      if (auto* ev = std::get_if<detail::ReplayEvent>(&*reply)) {
        if (!take_replayed(*ev)) return true;
      } else if (auto* end = std::get_if<detail::ReplayEnd>(&*reply)) {
        finish_answer(*end);
        return true;
      } else if (auto* err = std::get_if<detail::ReplayError>(&*reply)) {
        spdlog::warn("consumer {}: replay from {} refused: {}: {}", opts.name, considered_ + 1,
                     err->code, err->reason);
        drop_answer();
        replay_not_before_ = Clock::now() + kReplayErrorRetry;
        return true;
      } else {
        garbage_warn.warn("consumer {}: replay stream unusable ({}); asking again", opts.name,
                          std::get<detail::ReplayMalformed>(*reply).what);
        drop_answer();
        replay_not_before_ = Clock::now() + kReplayRetry;
        return true;
      }
    }
    return any;
  }

  // False when the stream turned out broken (request cancelled).
  bool take_replayed(const detail::ReplayEvent& e) {
    const std::uint64_t seq = e.meta.seq;
    const std::uint64_t floor = std::max(answer_last_, considered_);
    std::string broken;
    if (seq <= floor) {
      broken = "event " + std::to_string(seq) + " out of order";
    } else if (answer_.size() >= request_size()) {
      broken = "more events than asked for";
    } else if (e.meta.prev_topic_seq > considered_) {
      // The previous event of this topic is in the range we asked for, so it
      // must have come in this answer.
      auto it = answer_topic_.find(e.topic);
      if (it == answer_topic_.end() || it->second != e.meta.prev_topic_seq)
        broken = "event " + std::to_string(e.meta.prev_topic_seq) + " of " + e.topic +
                 " missing before " + std::to_string(seq);
    }
    if (!broken.empty()) {
      garbage_warn.warn("consumer {}: replay stream unusable ({}); asking again", opts.name, broken);
      replay->cancel();
      drop_answer();
      replay_not_before_ = Clock::now() + kReplayRetry;
      return false;
    }
    answer_last_ = seq;
    answer_topic_[e.topic] = seq;
    // The broker filtered already; an event outside our prefixes is skipped
    // like a non-matching live one.
    if (!wire::matches_any(e.topic, opts.topics)) return true;
    Pending p;
    p.ev.seq = seq;
    p.ev.prev_topic_seq = e.meta.prev_topic_seq;
    p.ev.topic = e.topic;
    p.ev.raw = e.envelope;
    if (!p.ev.envelope.ParseFromString(p.ev.raw))
      p.undecodable = "envelope does not decode as eck.v1.Envelope";
    answer_.push_back(std::move(p));
    return true;
  }

  void finish_answer(const detail::ReplayEnd& end) {
    if (end.scanned_to < answer_last_) {
      garbage_warn.warn("consumer {}: replay END at {} before its last event {}; asking again",
                        opts.name, end.scanned_to, answer_last_);
      drop_answer();
      replay_not_before_ = Clock::now() + kReplayRetry;
      return;
    }
    for (auto& p : answer_) ready_.push_back(std::move(p));
    drop_answer();
    const std::uint64_t before = considered_;
    considered_ = std::max(considered_, end.scanned_to);
    if (end.head_seq < before)
      behind_warn.warn(
          "consumer {}: the broker's head {} is behind this consumer's position {}; was the "
          "journal recreated?",
          opts.name, end.head_seq, before);
    if (considered_ >= end.head_seq) {
      spdlog::info("consumer {}: caught up at {}; following the live feed", opts.name, considered_);
      mode = Mode::kLive;
      hb_head_ = 0;
    } else if (considered_ == before) {
      // Nothing scanned although the head is further: do not hammer the broker.
      replay_not_before_ = Clock::now() + kReplayRetry;
    }
  }

  // ---- applying -----------------------------------------------------------

  // Commits the next batch (or, with nothing ready, just the position).
  //
  // Fast path: the whole batch in one transaction. If the handler fails on
  // any event, that transaction is rolled back and the batch is redone with
  // one transaction per event, so only the failing event is dead-lettered
  // and every other one applies, each with its position. (Savepoints inside
  // one transaction would be cheaper, but libpqxx 6 aborts a whole
  // pqxx::work when any statement in it fails, and the handler is promised
  // a pqxx::work, so pqxx::subtransaction cannot be handed to it either.)
  void apply() {
    if (needs_reload_) {
      needs_reload_ = false;
      reload();
      if (Clock::now() < db_retry_at_) return;
    }
    const std::size_t n = std::min(ready_.size(), opts.max_batch);
    if (n == 0 && considered_ <= stored_) return;
    try {
      pqxx::connection& conn = db.connection();
      std::string why;
      auto outcome = run_batch(conn, n, through(n), why);
      if (outcome == BatchOutcome::kCommitted) {
        committed(n, through(n));
      } else if (outcome == BatchOutcome::kHandlerFailed) {
        spdlog::debug("consumer {}: batch of {} failed ({}); redoing it event by event", opts.name,
                      n, why);
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint64_t to = through(1);
          outcome = run_batch(conn, 1, to, why);
          if (outcome == BatchOutcome::kHandlerFailed) outcome = reject(conn, to, why);
          if (outcome == BatchOutcome::kPositionMoved) break;
          committed(1, to);
        }
      }
      db_ok();
      // The replay socket was not read while we were busy here.
      replay_activity_ = Clock::now();
    } catch (const std::exception& e) {
      if (!detail::is_db_trouble(e)) throw;
      db_trouble(e);
    }
  }

  // After database trouble: where the position really is.
  void reload() {
    try {
      pqxx::work tx(db.connection(), "eck-consumer-reload");
      auto r = tx.exec_params1("SELECT position FROM consumer_position WHERE consumer = $1",
                               opts.name);
      tx.commit();
      reconcile(r[0].as<std::uint64_t>());
      db_ok();
    } catch (const std::exception& e) {
      if (!detail::is_db_trouble(e)) throw;
      db_trouble(e);
    }
  }

  // How far the position may move once the first n ready events are
  // applied: to just before the first event left for later, or to
  // everything considered.
  std::uint64_t through(std::size_t n) const {
    return n < ready_.size() ? ready_[n].ev.seq - 1 : considered_;
  }

  // The first n ready events are committed with the position `to`.
  void committed(std::size_t n, std::uint64_t to) {
    std::size_t dead = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (!ready_.front().undecodable.empty() || ready_.front().rejected) ++dead;
      ready_.pop_front();
    }
    stored_ = to;
    last_store_ = Clock::now();
    with_stats([&](ConsumerStats& s) {
      s.applied += n - dead;
      s.dead_lettered += dead;
    });
    set_position_stat();
  }

  // Opens the transaction that will store the position: locks our row
  // first, so a second instance of this consumer waits here and then sees
  // that the position moved, instead of applying the same events again.
  // False (after reconciling) when the row is not where we left it.
  bool begin(pqxx::work& tx) {
    auto r = tx.exec_params("SELECT position FROM consumer_position WHERE consumer = $1 FOR UPDATE",
                            opts.name);
    if (r.empty()) throw std::runtime_error("consumer " + opts.name + ": position row vanished");
    const auto in_db = r[0][0].as<std::uint64_t>();
    if (in_db == stored_) return true;
    tx.abort();
    reconcile(in_db);
    return false;
  }

  void store(pqxx::work& tx, std::uint64_t to) {
    tx.exec_params0(
        "UPDATE consumer_position SET position = $2, updated_at = now() WHERE consumer = $1",
        opts.name, to);
    tx.commit();
  }

  // The first n ready events and the position `to` in one transaction.
  // kHandlerFailed (with the reason) when the handler threw, or left the
  // transaction unusable; database trouble propagates.
  BatchOutcome run_batch(pqxx::connection& conn, std::size_t n, std::uint64_t to,
                         std::string& why) {
    pqxx::work tx(conn, "eck-consumer");
    if (!begin(tx)) return BatchOutcome::kPositionMoved;
    try {
      for (std::size_t i = 0; i < n; ++i) {
        Pending& p = ready_[i];
        p.rejected = false;
        if (!p.undecodable.empty()) {
          dead_letter(tx, p.ev, p.undecodable);  // never reaches the handler
          continue;
        }
        try {
          handler(p.ev, tx);
        } catch (...) {
          p.rejected = true;
          throw;
        }
      }
      // Fails too when the handler swallowed an SQL error: libpqxx has then
      // aborted the transaction, and the batch is redone event by event.
      store(tx, to);
    } catch (const std::exception& e) {
      if (detail::is_db_trouble(e)) throw;
      why = one_line(e.what());
      if (why.empty()) why = "handler threw an exception without a message";
      return BatchOutcome::kHandlerFailed;
    } catch (...) {
      why = "handler threw an exception that is not a std::exception";
      return BatchOutcome::kHandlerFailed;
    }
    return BatchOutcome::kCommitted;
  }

  // The next ready event failed alone: record it and move past it.
  BatchOutcome reject(pqxx::connection& conn, std::uint64_t to, const std::string& why) {
    pqxx::work tx(conn, "eck-consumer-dead-letter");
    if (!begin(tx)) return BatchOutcome::kPositionMoved;
    ready_.front().rejected = true;
    dead_letter(tx, ready_.front().ev, why);
    store(tx, to);
    return BatchOutcome::kCommitted;
  }

  void dead_letter(pqxx::work& tx, const Event& ev, const std::string& reason) {
    spdlog::warn("consumer {}: dead-lettering event {} ({} {}): {}", opts.name, ev.seq, ev.topic,
                 ev.envelope.event_id(), reason);
    tx.exec_params0(
        "INSERT INTO dead_letter (consumer, seq, event_id, topic, envelope, reason)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, seq) DO NOTHING",
        opts.name, ev.seq, detail::sanitize_text(ev.envelope.event_id(), 200),
        detail::sanitize_text(ev.topic, 1000), pqxx::binarystring(ev.raw.data(), ev.raw.size()),
        detail::sanitize_text(reason));
  }
};

Consumer::Consumer(ConsumerOptions opts, Database& db, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(opts), db, std::move(handler))) {}

Consumer::~Consumer() = default;

void Consumer::run(const std::function<bool()>& keep_going, const std::function<void()>& on_tick,
                   std::chrono::milliseconds tick) {
  while (keep_going()) {
    impl_->poll_once(tick);
    if (on_tick) on_tick();
  }
}

void Consumer::poll_once(std::chrono::milliseconds budget) { impl_->poll_once(budget); }

ConsumerStats Consumer::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats_;
}

}  // namespace eck
