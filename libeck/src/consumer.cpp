// Consumer: a Follower plus a position stored with the effects.
//
// Three numbers drive everything:
//   stored_       the position in consumer_position, as far as we know;
//   considered()  the Follower's: every matching event in
//                 (stored_, considered()] is waiting in ready_, in order,
//                 and every other sequence in that range did not match;
//   ready_        those waiting events; apply() commits them in batches
//                 (position = how far the batch covers) and advances stored_.
// After any database failure the position is read back before the next
// commit, which settles whether an ambiguous commit happened. When it is not
// where we thought (another instance, a reset by hand), the Follower is
// restarted from it.
//
// Replay, the live feed and gap repair are all the Follower's
// (eck/follower.h); this file is the database side.
#include "eck/consumer.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "db_trouble.h"

namespace eck {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Positions over events that do not concern us are stored at most this often
// when nothing else needs a transaction.
constexpr milliseconds kIdleStoreInterval{1000};
constexpr milliseconds kDbBackoffMin{100};
constexpr milliseconds kDbBackoffMax{5000};

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

ConsumerOptions checked(ConsumerOptions o) {
  if (o.name.empty()) throw std::invalid_argument("consumer: empty name");
  if (o.max_batch == 0) o.max_batch = 1;
  return o;
}

FollowerOptions follower_options(const ConsumerOptions& o) {
  FollowerOptions f;
  f.fanout_endpoint = o.fanout_endpoint;
  f.replay_endpoint = o.replay_endpoint;
  f.topics = o.topics;
  f.name = o.name;
  f.max_batch = o.max_batch;
  f.replay_timeout = o.replay_timeout;
  f.rcvhwm = o.rcvhwm;
  return f;
}

}  // namespace

struct Consumer::Impl {
  enum class BatchOutcome { kCommitted, kHandlerFailed, kPositionMoved };

  ConsumerOptions opts;
  Database& db;
  Handler handler;
  TransactionHooks hooks;
  Follower follower;

  bool loaded = false;  // stored_ valid, follower started
  std::uint64_t stored_ = 0;
  // Waiting to be applied; `undecodable` ones go to the dead letter table
  // without reaching the handler.
  std::deque<FollowedEvent> ready_;
  Clock::time_point last_store_{};

  Clock::time_point db_retry_at_{};
  milliseconds db_backoff_ = kDbBackoffMin;
  bool needs_reload_ = false;

  mutable std::mutex stats_mu;
  ConsumerStats stats_;

  Impl(ConsumerOptions o, Database& d, Handler h, TransactionHooks th)
      : opts(checked(std::move(o))),
        db(d),
        handler(std::move(h)),
        hooks(std::move(th)),
        follower(follower_options(opts)) {
    if (!handler) throw std::invalid_argument("consumer: no handler");
  }

  template <typename F>
  void with_stats(F f) {
    std::lock_guard lock(stats_mu);
    f(stats_);
  }

  std::uint64_t considered() const { return follower.considered(); }

  // ---- the loop -----------------------------------------------------------

  void poll_once(milliseconds budget) {
    const auto deadline = Clock::now() + budget;
    // The live feed queues up while the position is being loaded.
    follower.connect();
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
      if (ready_.empty() && !store_due(now)) {
        // Nothing to commit: wait for events, at most until the deadline or
        // until the position over other topics' events is due.
        auto until = deadline;
        if (considered() > stored_) until = std::min(until, last_store_ + kIdleStoreInterval);
        follower.poll(ready_, std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(
                                                            until - now)));
      } else if (ready_.size() < opts.max_batch) {
        follower.poll(ready_, milliseconds(0));  // fill the batch with what is there
      }
      sync_follower_stats();
      if (!ready_.empty() || store_due(Clock::now())) apply();
    }
  }

  bool store_due(Clock::time_point now) const {
    return considered() > stored_ && now - last_store_ >= kIdleStoreInterval;
  }

  void sync_follower_stats() {
    const auto f = follower.stats();
    with_stats([&](ConsumerStats& s) {
      s.gaps = f.gaps;
      s.duplicates = f.duplicates;
    });
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
      stored_ = p;
      last_store_ = Clock::now();
      spdlog::info("consumer {}: starting after position {}", opts.name, p);
      follower.start(p);
      set_position_stat();
      return;
    }
    if (p == stored_) return;
    if (p > stored_ && p <= considered()) {
      while (!ready_.empty() && ready_.front().event.seq <= p) ready_.pop_front();
      stored_ = p;
    } else {
      spdlog::warn(
          "consumer {}: position in the database is {}, expected {}; another instance running, or "
          "reset by hand? Continuing from {}",
          opts.name, p, stored_, p);
      stored_ = p;
      ready_.clear();
      follower.start(p);
    }
    last_store_ = Clock::now();
    set_position_stat();
  }

  void set_position_stat() {
    std::uint64_t pos = ready_.empty() ? considered() : ready_.front().event.seq - 1;
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
    if (n == 0 && considered() <= stored_) return;
    try {
      pqxx::connection& conn = db.connection();
      std::string why;
      auto outcome = run_batch(conn, n, through(n), why);
      if (outcome == BatchOutcome::kCommitted) {
        committed(n, through(n), undecodable_among(n));
      } else if (outcome == BatchOutcome::kHandlerFailed) {
        spdlog::debug("consumer {}: batch of {} failed ({}); redoing it event by event", opts.name,
                      n, why);
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint64_t to = through(1);
          std::size_t dead = undecodable_among(1);
          outcome = run_batch(conn, 1, to, why);
          if (outcome == BatchOutcome::kHandlerFailed) {
            outcome = reject(conn, to, why);
            dead = 1;
          }
          if (outcome == BatchOutcome::kPositionMoved) break;
          committed(1, to, dead);
        }
      }
      db_ok();
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
    return n < ready_.size() ? ready_[n].event.seq - 1 : considered();
  }

  std::size_t undecodable_among(std::size_t n) const {
    return static_cast<std::size_t>(std::count_if(
        ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(n),
        [](const FollowedEvent& p) { return !p.undecodable.empty(); }));
  }

  // The first n ready events are committed with the position `to`; `dead`
  // of them were dead-lettered.
  void committed(std::size_t n, std::uint64_t to, std::size_t dead) {
    ready_.erase(ready_.begin(), ready_.begin() + static_cast<std::ptrdiff_t>(n));
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
    // Whatever the handler buffered belongs to this transaction only.
    struct RollbackHook {
      const TransactionHooks& hooks;
      bool committed = false;
      ~RollbackHook() {
        if (!committed && hooks.after_rollback) hooks.after_rollback();
      }
    } guard{hooks};
    pqxx::work tx(conn, "eck-consumer");
    if (!begin(tx)) return BatchOutcome::kPositionMoved;
    try {
      for (std::size_t i = 0; i < n; ++i) {
        const FollowedEvent& p = ready_[i];
        if (!p.undecodable.empty()) {
          dead_letter(tx, p.event, p.undecodable);  // never reaches the handler
          continue;
        }
        handler(p.event, tx);
      }
      if (hooks.before_commit) hooks.before_commit(tx);
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
    guard.committed = true;
    return BatchOutcome::kCommitted;
  }

  // The next ready event failed alone: record it and move past it.
  BatchOutcome reject(pqxx::connection& conn, std::uint64_t to, const std::string& why) {
    pqxx::work tx(conn, "eck-consumer-dead-letter");
    if (!begin(tx)) return BatchOutcome::kPositionMoved;
    dead_letter(tx, ready_.front().event, why);
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

Consumer::Consumer(ConsumerOptions opts, Database& db, Handler handler, TransactionHooks hooks)
    : impl_(std::make_unique<Impl>(std::move(opts), db, std::move(handler), std::move(hooks))) {}

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
