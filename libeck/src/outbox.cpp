// Transactional outbox: enqueue inside the daemon's transaction, relay on a
// thread of its own.
//
// The relay loop: look at the oldest unacknowledged rows (one batch, at most
// the publisher window), publish them all, wait until the broker has answered
// every one, stamp the answers in one transaction, repeat. When there is
// nothing to do it sleeps on LISTEN eck_outbox (enqueue NOTIFYs on commit)
// with a 500 ms poll as the fallback for a lost notification or a LISTEN not
// yet re-issued after a reconnect.
//
// Waiting for a whole batch before the next keeps the journal in id order in
// the normal case. A retry inside a batch (timeout, UNAVAILABLE) can still
// put a later row of the batch before an earlier one in the journal; a daemon
// that needs strict order sets PublisherOptions::window = 1.
#include "eck/outbox.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "db_trouble.h"
#include "eck/copy_buffer.h"
#include "eck/sql_array.h"
#include "eck/events.h"

namespace eck {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// One channel for every schema: a wake-up costs a relay one indexed query, so
// waking the relays of other schemas now and then is cheaper than channel
// names derived from schema names (which may be too long for a channel).
constexpr const char* kChannel = "eck_outbox";
constexpr milliseconds kPollInterval{500};
constexpr milliseconds kBackoffMin{100};
constexpr milliseconds kBackoffMax{5000};
constexpr std::size_t kMaxBatch = 1000;
constexpr milliseconds kCountInterval{1000};

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

}  // namespace

namespace {

// Delivered only if and when the transaction commits; PostgreSQL folds
// repeated identical notifications of one transaction into one.
void notify_relay(pqxx::work& tx) {
  tx.exec(std::string("SELECT pg_notify('") + kChannel + "', current_schema())");
}

// bytea in COPY text form; stream_to escapes the backslash once more.
std::string bytea_hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + 2 * bytes.size());
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

}  // namespace

std::string outbox_enqueue(pqxx::work& tx, v1::Envelope env, std::string_view source) {
  const std::string topic = complete_envelope(env, source);
  const std::string bytes = env.SerializeAsString();
  tx.exec_params0("INSERT INTO outbox (event_id, topic, envelope) VALUES ($1, $2, $3)",
                  env.event_id(), topic, pqxx::binarystring(bytes.data(), bytes.size()));
  notify_relay(tx);
  return env.event_id();
}

void outbox_enqueue_all(pqxx::work& tx, std::vector<v1::Envelope>& envs, std::string_view source) {
  if (envs.empty()) return;
  if (envs.size() == 1) {
    complete_envelope(envs.front(), source);  // fills only what is missing
    outbox_enqueue(tx, envs.front(), source);
    return;
  }
  // Complete them all first: a bad one throws before anything is written.
  std::vector<std::string> topics;
  topics.reserve(envs.size());
  for (auto& env : envs) topics.push_back(complete_envelope(env, source));
  CopyBuffer<3> rows("outbox", {"event_id", "topic", "envelope"});
  for (std::size_t i = 0; i < envs.size(); ++i) {
    rows.add(envs[i].event_id(), topics[i], bytea_hex(envs[i].SerializeAsString()));
  }
  rows.flush(tx);
  notify_relay(tx);
}

struct OutboxRelay::Impl {
  struct Row {
    std::int64_t id = 0;
    std::string event_id;
    std::string envelope;
  };
  struct Answer {
    std::int64_t id = 0;
    std::optional<std::uint64_t> seq;  // acknowledged
    std::string rejected;              // "CODE: reason" when refused for good
  };

  DatabaseOptions dbo;
  PublisherOptions po;
  int wake_fd = -1;
  std::unique_ptr<Publisher> pub;
  std::thread thread;
  std::atomic<bool> stopping{false};

  // Shared with callers and with the publisher's callbacks, under mu.
  mutable std::mutex mu;
  std::condition_variable cv;
  OutboxStats stats_;
  std::uint64_t looks_wanted = 0;  // drain() asks for a look that starts after its call
  std::uint64_t looks_empty = 0;   // the latest wanted-count seen by a look that found nothing
  std::uint64_t batch_gen = 0;     // answers of older batches are ignored
  std::vector<Answer> answers;

  Impl(DatabaseOptions d, PublisherOptions p) : dbo(std::move(d)), po(std::move(p)) {
    // The outbox table is the spool: a second copy on local disk would only
    // be a second truth to reconcile.
    po.spool_path.clear();
    po.window = std::clamp<std::size_t>(po.window, 1, kMaxBatch);
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  }

  ~Impl() {
    stop();
    ::close(wake_fd);
  }

  void wake() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  void start() {
    if (thread.joinable()) return;
    stopping = false;
    pub = std::make_unique<Publisher>(po);
    thread = std::thread([this] { run(); });
  }

  void stop() {
    if (!thread.joinable()) return;
    {
      // Under mu: publish() checks it in a condition-variable predicate.
      std::lock_guard lock(mu);
      stopping = true;
    }
    wake();
    cv.notify_all();
    thread.join();
    pub.reset();
  }

  bool drain(milliseconds timeout) {
    std::unique_lock lock(mu);
    const std::uint64_t wanted = ++looks_wanted;
    lock.unlock();
    wake();
    lock.lock();
    return cv.wait_for(lock, timeout, [&] { return looks_empty >= wanted; });
  }

  // ---- relay thread -------------------------------------------------------

  void run() {
    Database db(dbo);
    int listening_pid = 0;  // backend that has our LISTEN; 0: none
    milliseconds backoff = kBackoffMin;
    std::vector<Answer> unstamped;
    while (!stopping) {
      try {
        pqxx::connection& conn = db.connection();
        if (conn.backendpid() != listening_pid) {
          // A new session (first start or after a reconnect) must LISTEN
          // again; whatever was notified meanwhile the next look finds.
          pqxx::nontransaction ntx(conn);
          ntx.exec(std::string("LISTEN ") + kChannel);
          listening_pid = conn.backendpid();
        }
        if (!unstamped.empty()) {
          stamp(conn, unstamped);
          unstamped.clear();
        }
        std::uint64_t wanted;
        {
          std::lock_guard lock(mu);
          wanted = looks_wanted;
        }
        conn.get_notifs();  // what was notified before this look is covered by it
        auto rows = fetch(conn);
        if (rows.empty()) {
          {
            std::lock_guard lock(mu);
            stats_.pending = 0;
            looks_empty = std::max(looks_empty, wanted);
          }
          cv.notify_all();
          backoff = kBackoffMin;
          sleep(&conn, kPollInterval);
          if (conn.is_open()) conn.get_notifs();
          continue;
        }
        auto got = publish(rows);
        if (!got) return;  // stopping: the rows stay for the next relay
        unstamped = std::move(*got);
        stamp(conn, unstamped);
        unstamped.clear();
        if (Clock::now() - last_count_ >= kCountInterval) count_pending(conn);
        backoff = kBackoffMin;
      } catch (const std::exception& e) {
        if (detail::is_db_trouble(e))
          spdlog::warn("outbox relay: database: {}; retrying in {} ms", one_line(e.what()),
                       backoff.count());
        else
          spdlog::error("outbox relay: {}; retrying in {} ms", one_line(e.what()), backoff.count());
        db.reset();
        listening_pid = 0;
        sleep(nullptr, backoff);
        backoff = std::min(backoff * 2, kBackoffMax);
      }
    }
  }

  // Waits for a notification, a wake-up (stop, drain) or the timeout.
  void sleep(pqxx::connection* conn, milliseconds timeout) {
    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {-1, POLLIN, 0}};
    nfds_t n = 1;
    if (conn && conn->is_open() && conn->sock() >= 0) {
      fds[1].fd = conn->sock();
      n = 2;
    }
    if (::poll(fds, n, static_cast<int>(timeout.count())) > 0 && (fds[0].revents & POLLIN)) {
      std::uint64_t v;
      [[maybe_unused]] auto r = ::read(wake_fd, &v, sizeof v);
    }
  }

  std::vector<Row> fetch(pqxx::connection& conn) {
    pqxx::read_transaction tx(conn, "eck-outbox-fetch");
    auto r = tx.exec_params(
        "SELECT id, event_id::text, envelope FROM outbox"
        " WHERE acked_seq IS NULL AND rejected IS NULL ORDER BY id LIMIT $1",
        po.window);
    std::vector<Row> rows;
    rows.reserve(r.size());
    for (const auto& row : r)
      rows.push_back({row[0].as<std::int64_t>(), row[1].as<std::string>(),
                      pqxx::binarystring(row[2]).str()});
    return rows;
  }

  // Publishes the rows and waits until each is answered; nullopt if stopped
  // first.
  std::optional<std::vector<Answer>> publish(const std::vector<Row>& rows) {
    std::uint64_t gen;
    {
      std::lock_guard lock(mu);
      gen = ++batch_gen;
      answers.clear();
    }
    std::size_t local = 0;  // answered without the broker
    std::vector<Answer> out;
    for (const auto& row : rows) {
      v1::Envelope env;
      if (!env.ParseFromString(row.envelope) || !kind_of(env)) {
        spdlog::error("outbox relay: row {} ({}) holds no decodable event; marking it rejected",
                      row.id, row.event_id);
        out.push_back({row.id, std::nullopt, "BAD_ENVELOPE: not a decodable eck.v1.Envelope"});
        ++local;
        continue;
      }
      const std::int64_t id = row.id;
      pub->publish(std::move(env), [this, gen, id](const Ack* ack, const PublishError* err) {
        std::lock_guard lock(mu);
        if (gen != batch_gen) return;
        if (ack) {
          answers.push_back({id, ack->seq, {}});
        } else {
          spdlog::error("outbox relay: broker refused row {} ({}): {}: {}", id, err->event_id(),
                        wire::code_name(err->code()), err->reason());
          answers.push_back(
              {id, std::nullopt, std::string(wire::code_name(err->code())) + ": " + err->reason()});
        }
        cv.notify_all();
      });
    }
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stopping || answers.size() + local == rows.size(); });
    if (answers.size() + local != rows.size()) return std::nullopt;
    for (auto& a : answers) out.push_back(std::move(a));
    answers.clear();
    return out;
  }

  void stamp(pqxx::connection& conn, const std::vector<Answer>& done) {
    pqxx::work tx(conn, "eck-outbox-stamp");
    std::uint64_t acked = 0, rejected = 0;
    // Acknowledged rows in one statement (arrays): one round trip per round,
    // not per row.
    std::vector<std::int64_t> ids;
    std::vector<std::uint64_t> seqs;
    for (const auto& a : done) {
      if (!a.seq) continue;
      ids.push_back(a.id);
      seqs.push_back(*a.seq);
    }
    acked = ids.size();
    if (acked) {
      tx.exec_params0(
          "UPDATE outbox o SET acked_seq = u.seq, acked_at = now()"
          " FROM unnest($1::bigint[], $2::bigint[]) AS u(id, seq) WHERE o.id = u.id",
          sql_array(ids), sql_array(seqs));
    }
    for (const auto& a : done) {
      if (!a.seq) {
        tx.exec_params0("UPDATE outbox SET rejected = $2 WHERE id = $1", a.id,
                        detail::sanitize_text(a.rejected));
        ++rejected;
      }
    }
    tx.commit();
    std::lock_guard lock(mu);
    stats_.published += acked;
    stats_.rejected += rejected;
  }

  // A count over the unacknowledged rows costs a scan of the partial index,
  // which dead tuples swell on a busy outbox: at most once per interval.
  Clock::time_point last_count_{};

  void count_pending(pqxx::connection& conn) {
    last_count_ = Clock::now();
    pqxx::read_transaction tx(conn, "eck-outbox-count");
    auto n = tx.exec1("SELECT count(*) FROM outbox WHERE acked_seq IS NULL AND rejected IS NULL")[0]
                 .as<std::uint64_t>();
    std::lock_guard lock(mu);
    stats_.pending = n;
  }
};

OutboxRelay::OutboxRelay(DatabaseOptions db, PublisherOptions pub)
    : impl_(std::make_unique<Impl>(std::move(db), std::move(pub))) {}

OutboxRelay::~OutboxRelay() = default;

void OutboxRelay::start() { impl_->start(); }

void OutboxRelay::stop() { impl_->stop(); }

OutboxStats OutboxRelay::stats() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stats_;
}

bool OutboxRelay::drain(std::chrono::milliseconds timeout) { return impl_->drain(timeout); }

}  // namespace eck
