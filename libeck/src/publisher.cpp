// Publisher: callers hand events to one I/O thread that owns the DEALER
// socket. The hand-off is a mutex-protected inbox plus an eventfd that the I/O
// thread polls beside the socket: waking it needs no second ZeroMQ socket, so
// no socket is ever touched by more than one thread.
//
// The I/O thread keeps every event it knows in `entries` (by event_id) until
// the broker answers it for good:
//   waiting -> not sent yet (the window is full, or no broker is connected)
//   sent    -> on the wire; sent again, unchanged, when unanswered for ack_timeout
//   backoff -> answered UNAVAILABLE; sent again after retry_backoff
// Sent and backoff entries count against the window.
#include "eck/publisher.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <spdlog/spdlog.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "eck/events.h"
#include "eck/uuid.h"
#include "spool.h"
#include "throttled_warn.h"

namespace eck {

PublishError::PublishError(std::string event_id, wire::Code code, std::string reason)
    : std::runtime_error("event " + event_id + " refused: " + std::string(wire::code_name(code)) +
                         ": " + reason),
      event_id_(std::move(event_id)),
      code_(code),
      reason_(std::move(reason)) {}

namespace {

using Clock = std::chrono::steady_clock;
using Completion = Publisher::Callback;

// Replies are matched on the canonical form, whatever case the producer or
// the broker used.
std::string key_of(const std::string& event_id) {
  return is_uuid(event_id) ? normalize_uuid(event_id) : event_id;
}

struct Item {
  std::string event_id;  // as in the envelope (and the spool)
  std::string topic;
  std::string bytes;             // serialized envelope; every resend sends exactly these
  std::vector<Completion> done;  // empty for events an earlier run spooled
};

using detail::ThrottledWarn;

constexpr auto kIdlePoll = std::chrono::milliseconds(1000);
// After EAGAIN (no broker connected) resends are retried this often; POLLOUT
// usually wakes us sooner.
constexpr auto kBlockedRetry = std::chrono::milliseconds(100);

}  // namespace

struct Publisher::Impl {
  enum class State { kWaiting, kSent, kBackoff };
  struct Entry {
    Item item;
    State state = State::kWaiting;
    Clock::time_point due{};  // kSent: resend after; kBackoff: resend at
    std::uint64_t order = 0;  // publish order, kept for resends
  };
  struct Result {
    std::vector<Completion> done;
    std::optional<Ack> ack;
    std::optional<PublishError> error;
  };

  PublisherOptions opts;
  std::unique_ptr<detail::Spool> spool;
  zmq::context_t ctx{1};
  zmq::socket_t socket;  // the DEALER; the I/O thread's alone once it runs
  int wake_fd = -1;

  // Shared with callers, under mu.
  mutable std::mutex mu;
  std::condition_variable cv;  // pending went down, or stopping
  std::deque<Item> inbox;
  std::size_t pending = 0;  // in the inbox, waiting or in flight
  bool stopping = false;

  // I/O thread only.
  std::unordered_map<std::string, Entry> entries;
  std::deque<std::string> queue;  // keys of kWaiting entries, publish order
  std::size_t in_flight = 0;      // kSent + kBackoff
  std::uint64_t next_order = 0;
  // No sent or backoff entry is due before this; saves scanning `entries`
  // on every turn.
  Clock::time_point earliest_due = Clock::time_point::max();
  std::vector<Result> results;      // answered this turn, completed after the spool delete
  std::vector<std::string> forget;  // spool rows to delete this turn
  ThrottledWarn bad_reply{std::chrono::seconds(10)};
  std::uint64_t resent_unlogged = 0;
  Clock::time_point next_resent_log{};

  std::thread io;

  explicit Impl(PublisherOptions o) : opts(std::move(o)) {
    if (opts.window == 0) opts.window = 1;
    if (!opts.spool_path.empty()) spool = std::make_unique<detail::Spool>(opts.spool_path);
    socket = make_socket(ctx, opts);
    if (spool) {
      auto old = spool->load();
      if (!old.empty())
        spdlog::info("publisher: {} spooled events from {} to send", old.size(), opts.spool_path);
      for (auto& e : old)
        inbox.push_back(Item{std::move(e.event_id), std::move(e.topic), std::move(e.envelope), {}});
      pending = inbox.size();
    }
    // Last of what can throw: nothing else would close it.
    wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
    io = std::thread([this] { run(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    cv.notify_all();
    wake();
    io.join();
    ::close(wake_fd);
  }

  void wake() {
    std::uint64_t one = 1;
    // EAGAIN would mean the counter is already huge: the thread wakes anyway.
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }

  // ---- caller threads ---------------------------------------------------

  std::string submit(v1::Envelope& env, Completion done) {
    std::string topic = complete_envelope(env, opts.source);
    Item item{env.event_id(), std::move(topic), env.SerializeAsString(), {}};
    if (done) item.done.push_back(std::move(done));
    std::string id = item.event_id;
    // Durable before publish() returns: from here on the event outlives us.
    if (spool) spool->insert(item.event_id, item.topic, item.bytes);
    {
      std::unique_lock lock(mu);
      // Without a spool memory is the only buffer, so callers wait for room.
      // With one the event is already safe on disk, and blocking would stop a
      // till from selling while the broker is away.
      if (!spool) cv.wait(lock, [&] { return stopping || pending < 2 * opts.window; });
      if (stopping) throw std::runtime_error("publisher is shutting down");
      inbox.push_back(std::move(item));
      ++pending;
    }
    wake();
    return id;
  }

  bool flush(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [&] { return pending == 0; });
  }

  std::size_t pending_count() const {
    std::lock_guard lock(mu);
    return pending;
  }

  // ---- I/O thread -------------------------------------------------------

  // Made and connected on the constructing thread, so that a malformed
  // endpoint throws from the constructor; from then on only the I/O thread
  // touches it (starting the thread is the memory barrier ZeroMQ asks for
  // when a socket changes threads).
  static zmq::socket_t make_socket(zmq::context_t& ctx, const PublisherOptions& opts) {
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::linger, 0);
    // Nothing is queued for a peer that is not connected: the send fails with
    // EAGAIN and the event stays here, under our timeout logic.
    sock.set(zmq::sockopt::immediate, 1);
    sock.set(zmq::sockopt::reconnect_ivl, 100);
    sock.set(zmq::sockopt::reconnect_ivl_max, 2000);
    // Heartbeats notice a dead TCP peer (WAN outage) long before the kernel.
    sock.set(zmq::sockopt::heartbeat_ivl, 1000);
    sock.set(zmq::sockopt::heartbeat_timeout, 5000);
    const int hwm = static_cast<int>(std::min<std::size_t>(opts.window * 2 + 16, 1 << 20));
    sock.set(zmq::sockopt::sndhwm, hwm);
    sock.set(zmq::sockopt::rcvhwm, hwm);
    sock.connect(opts.endpoint);
    return sock;
  }

  void run() {
    while (!turn_loop()) {
    }
  }

  // The I/O loop; true when stopping. Anything unexpected is logged and the
  // loop goes on: a dead I/O thread would leave every publish() unanswered.
  bool turn_loop() {
    try {
      loop();
      return true;
    } catch (const std::exception& e) {
      spdlog::error("publisher: I/O thread: {}; continuing", e.what());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::lock_guard lock(mu);
    return stopping;
  }

  void loop() {
    zmq::socket_t& sock = socket;
    for (;;) {
      {
        std::lock_guard lock(mu);
        if (stopping) break;
        while (!inbox.empty()) {
          admit(std::move(inbox.front()));
          inbox.pop_front();
        }
      }
      cv.notify_all();  // admit() may have merged duplicates
      auto now = Clock::now();
      bool blocked = !send_due(sock, now) || !send_waiting(sock, now);

      short events = ZMQ_POLLIN;
      if (blocked) events |= ZMQ_POLLOUT;
      zmq::pollitem_t items[] = {
          {static_cast<void*>(sock), 0, events, 0},
          {nullptr, wake_fd, ZMQ_POLLIN, 0},
      };
      try {
        zmq::poll(items, 2, poll_timeout(Clock::now(), blocked));
      } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) throw;
        continue;
      }
      if (items[1].revents & ZMQ_POLLIN) {
        std::uint64_t n;
        [[maybe_unused]] auto r = ::read(wake_fd, &n, sizeof n);
      }
      if (items[0].revents & ZMQ_POLLIN) read_replies(sock);
      finish();
    }
  }

  // Called with mu held.
  void admit(Item item) {
    std::string key = key_of(item.event_id);
    auto it = entries.find(key);
    if (it != entries.end()) {
      // Published again while still unanswered: send once, tell everyone.
      for (auto& d : item.done) it->second.item.done.push_back(std::move(d));
      --pending;
      return;
    }
    Entry e;
    e.item = std::move(item);
    e.order = next_order++;
    entries.emplace(key, std::move(e));
    queue.push_back(std::move(key));
  }

  // False on EAGAIN: no broker connected, or its pipe is full.
  bool send(zmq::socket_t& sock, const Item& item) {
    const auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
    if (!sock.send(zmq::buffer(wire::kVersion), more)) return false;
    // The first frame went out, so the rest of the message is accepted whole.
    (void)sock.send(zmq::buffer(wire::kPub), more);
    (void)sock.send(zmq::buffer(item.topic), more);
    (void)sock.send(zmq::buffer(item.bytes), zmq::send_flags::dontwait);
    return true;
  }

  // Resends events whose answer is overdue or whose backoff has run out, in
  // publish order. False when blocked.
  bool send_due(zmq::socket_t& sock, Clock::time_point now) {
    if (now < earliest_due) return true;
    std::vector<std::pair<std::uint64_t, Entry*>> due;
    earliest_due = Clock::time_point::max();
    for (auto& [key, e] : entries) {
      if (e.state == State::kWaiting) continue;
      if (e.due <= now)
        due.emplace_back(e.order, &e);
      else
        earliest_due = std::min(earliest_due, e.due);
    }
    if (due.empty()) return true;
    std::sort(due.begin(), due.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::size_t timed_out = 0;
    for (auto& [order, e] : due) {
      if (!send(sock, e->item)) {
        // Try again soon; POLLOUT wakes us as soon as a broker is connected.
        for (auto& [o, rest] : due)
          if (rest->due <= now) set_due(*rest, now + kBlockedRetry);
        return false;
      }
      if (e->state == State::kSent) ++timed_out;
      e->state = State::kSent;
      set_due(*e, now + opts.ack_timeout);
    }
    // At most one line a second, however many turns resend.
    resent_unlogged += timed_out;
    if (resent_unlogged > 0 && now >= next_resent_log) {
      spdlog::info("publisher: resent {} events unanswered for {} ms ({} in flight)",
                   resent_unlogged, opts.ack_timeout.count(), in_flight);
      resent_unlogged = 0;
      next_resent_log = now + std::chrono::seconds(1);
    }
    return true;
  }

  // Sends new events while the window has room. False when blocked.
  bool send_waiting(zmq::socket_t& sock, Clock::time_point now) {
    while (!queue.empty() && in_flight < opts.window) {
      Entry& e = entries.at(queue.front());
      if (!send(sock, e.item)) return false;
      e.state = State::kSent;
      set_due(e, now + opts.ack_timeout);
      ++in_flight;
      queue.pop_front();
    }
    return true;
  }

  void set_due(Entry& e, Clock::time_point at) {
    e.due = at;
    earliest_due = std::min(earliest_due, at);
  }

  std::chrono::milliseconds poll_timeout(Clock::time_point now, bool blocked) const {
    auto next = std::min(now + kIdlePoll, earliest_due);
    if (blocked) next = std::min(next, now + kBlockedRetry);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - now).count();
    return std::chrono::milliseconds(std::clamp<long long>(ms, 0, kIdlePoll.count()));
  }

  void read_replies(zmq::socket_t& sock) {
    // Bounded, so a flood of replies cannot starve sending.
    for (int i = 0; i < 10000; ++i) {
      std::vector<zmq::message_t> frames;
      zmq::recv_result_t got;
      try {
        got = zmq::recv_multipart(sock, std::back_inserter(frames), zmq::recv_flags::dontwait);
      } catch (const zmq::error_t& e) {
        if (e.num() == EINTR) continue;
        throw;
      }
      if (!got) return;
      handle_reply(frames);
    }
  }

  void handle_reply(const std::vector<zmq::message_t>& f) {
    if (f.size() != 5 || f[0].to_string_view() != wire::kVersion) {
      bad_reply.warn("publisher: ignoring malformed reply ({} frames)", f.size());
      return;
    }
    const auto cmd = f[1].to_string_view();
    const std::string event_id = f[2].to_string();
    auto it = entries.find(key_of(event_id));
    if (cmd == wire::kAck) {
      auto seq = wire::get_u64(f[3].to_string_view());
      if (!seq || f[4].size() != 1) {
        bad_reply.warn("publisher: ignoring malformed ACK for {}", event_id);
        return;
      }
      // Unknown id: the answer to a resend of an event already answered.
      if (it == entries.end() || it->second.state == State::kWaiting) return;
      Ack ack{it->second.item.event_id, *seq, f[4].data<char>()[0] != 0};
      complete(it, std::move(ack), std::nullopt);
    } else if (cmd == wire::kNack) {
      const std::string code_text = f[3].to_string();
      const std::string reason = f[4].to_string();
      auto code = wire::parse_code(code_text);
      if (it == entries.end() || it->second.state == State::kWaiting) return;
      Entry& e = it->second;
      if (code && wire::retryable(*code)) {
        if (e.state == State::kSent) {
          spdlog::debug("publisher: {} UNAVAILABLE ({}); retrying in {} ms", event_id, reason,
                        opts.retry_backoff.count());
          e.state = State::kBackoff;
          set_due(e, Clock::now() + opts.retry_backoff);
        }
        return;
      }
      // A code this client does not know is a refusal we cannot retry
      // meaningfully; keep the broker's words in the reason.
      std::string why = code ? reason : code_text + ": " + reason;
      wire::Code c = code ? *code : wire::Code::kBadCommand;
      spdlog::error("publisher: broker refused event {} on {}: {}: {}", e.item.event_id,
                    e.item.topic, code ? std::string(wire::code_name(c)) : code_text, reason);
      complete(it, std::nullopt, PublishError(e.item.event_id, c, std::move(why)));
    } else {
      bad_reply.warn("publisher: ignoring reply with command '{}'", std::string(cmd.substr(0, 32)));
    }
  }

  void complete(std::unordered_map<std::string, Entry>::iterator it, std::optional<Ack> ack,
                std::optional<PublishError> err) {
    Entry& e = it->second;
    if (spool) forget.push_back(e.item.event_id);
    results.push_back(Result{std::move(e.item.done), std::move(ack), std::move(err)});
    --in_flight;
    entries.erase(it);
  }

  // End of a turn: drop answered events from the spool (one transaction),
  // report them, then count them out, so flush() == true implies an empty
  // spool and completed callbacks.
  void finish() {
    if (results.empty()) return;
    if (spool && !forget.empty()) {
      try {
        spool->remove(forget);
      } catch (const std::exception& e) {
        // Harmless for correctness: the next Publisher resends them and the
        // broker answers as duplicates.
        spdlog::error("publisher: {}", e.what());
      }
    }
    forget.clear();
    for (auto& r : results) {
      for (auto& cb : r.done) {
        try {
          cb(r.ack ? &*r.ack : nullptr, r.error ? &*r.error : nullptr);
        } catch (const std::exception& ex) {
          spdlog::error("publisher: completion callback threw: {}", ex.what());
        } catch (...) {
          spdlog::error("publisher: completion callback threw");
        }
      }
    }
    // Last, so that flush() returning true means every callback has run.
    {
      std::lock_guard lock(mu);
      pending -= results.size();
    }
    cv.notify_all();
    results.clear();
  }
};

Publisher::Publisher(PublisherOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}

Publisher::~Publisher() = default;

std::future<Ack> Publisher::publish(v1::Envelope env) {
  auto promise = std::make_shared<std::promise<Ack>>();
  auto future = promise->get_future();
  impl_->submit(env, [promise](const Ack* ack, const PublishError* err) {
    if (ack)
      promise->set_value(*ack);
    else
      promise->set_exception(std::make_exception_ptr(*err));
  });
  return future;
}

std::string Publisher::publish(v1::Envelope env, Callback cb) {
  return impl_->submit(env, std::move(cb));
}

bool Publisher::flush(std::chrono::milliseconds timeout) { return impl_->flush(timeout); }

std::size_t Publisher::pending() const { return impl_->pending_count(); }

}  // namespace eck
