// inventory_latency: eck-inventory running and caught up (catalog applied);
// one publisher sends sales (inventory.h) at --rate per second for
// --seconds, paced like `latency`. Per sale, from the publish() call:
//
//   ack     the broker's ack: the sale is in the journal.
//   commit  the daemon's transaction that applied the sale has committed:
//           a connection of ours LISTENs on eck_outbox (the daemon NOTIFYs
//           in that transaction; PostgreSQL delivers at commit), takes the
//           time when a notification arrives, then reads the event_ids of
//           the inventory.movement rows added since its last look (the
//           sale's movements; primary-key range, a few rows). A sale whose
//           notification came while the previous look ran is stamped late
//           by at most that look (about a millisecond); one that committed
//           between the notification and the look, early by at most as
//           much. (--no-commit-probe: not measured, one connection less on
//           the database.)
//   e2e     the last of the sale's StockLevelChanged (one per product it
//           sold) arrives on a SUB socket on the broker's fan-out. On top of
//           commit this holds the outbox relay (wake-up, read, publish, the
//           broker's journal commit of the StockLevelChanged) and the
//           fan-out: an upper bound of "level committed". e2e_first_*: the
//           first of them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <pqxx/pqxx>
#include <zmq.hpp>

#include "bench.h"
#include "fanout_subscriber.h"
#include "inventory.h"

namespace eck::bench {
namespace {

using namespace inventory;
constexpr std::string_view kTopic = "inventory.StockLevelChanged";
constexpr const char* kChannel = "eck_outbox";

// The sales of the run, made before it starts. sent() is called by the
// sending thread; the watchers' threads read.
class SaleBook {
 public:
  SaleBook(const Options& o, std::uint64_t count) : sent_(std::make_unique<std::atomic<Clock::rep>[]>(count)) {
    SaleMaker maker(o, 42);
    for (std::uint64_t i = 0; i < count; ++i) {
      envs_.push_back(maker.next());
      index_.emplace(envs_.back().event_id(), i);
      std::set<std::string> skus;
      for (const auto& l : envs_.back().sale_completed().lines()) skus.insert(l.sku());
      levels_.push_back(static_cast<int>(skus.size()));
      sent_[i].store(0);
    }
  }

  std::uint64_t size() const { return envs_.size(); }
  v1::Envelope take(std::uint64_t i) { return std::move(envs_[i]); }
  void sent(std::uint64_t i, Clock::time_point t) { sent_[i].store(t.time_since_epoch().count(), std::memory_order_release); }
  // Levels the sale changes: StockLevelChanged it causes.
  int levels(std::uint64_t i) const { return levels_[i]; }
  // The sale with this event_id, once sent.
  std::optional<std::uint64_t> find(const std::string& event_id) const {
    auto it = index_.find(event_id);
    if (it == index_.end() || sent_[it->second].load(std::memory_order_acquire) == 0) return std::nullopt;
    return it->second;
  }
  Clock::time_point sent_at(std::uint64_t i) const {
    return Clock::time_point(Clock::duration(sent_[i].load(std::memory_order_acquire)));
  }

 private:
  std::vector<v1::Envelope> envs_;
  std::unordered_map<std::string, std::uint64_t> index_;
  std::vector<int> levels_;
  std::unique_ptr<std::atomic<Clock::rep>[]> sent_;
};

// StockLevelChanged from the fan-out, matched to the sales that caused them.
class LevelWatcher {
 public:
  LevelWatcher(zmq::context_t& ctx, const std::string& endpoint, const SaleBook& book)
      : book_(book), left_(book.size()), sub_(ctx, endpoint, kTopic, [this](const v1::Envelope& env, Clock::time_point now) {
          if (env.has_stock_level_changed()) seen(env.stock_level_changed().cause_event_id(), now);
        }) {
    for (std::uint64_t i = 0; i < book.size(); ++i) left_[i] = book.levels(i);
  }

  void stop() { sub_.stop(); }
  std::uint64_t seen() const { return sub_.seen(); }  // any StockLevelChanged
  std::uint64_t complete() const { return complete_.load(); }
  std::uint64_t bad() const { return sub_.bad(); }
  // After stop().
  Latencies& first() { return first_; }
  Latencies& all() { return all_; }

 private:
  void seen(const std::string& cause, Clock::time_point now) {
    const auto i = book_.find(cause);
    if (!i || left_[*i] <= 0) return;
    if (left_[*i] == book_.levels(*i)) first_.add(now - book_.sent_at(*i));
    if (--left_[*i] > 0) return;
    all_.add(now - book_.sent_at(*i));
    complete_.fetch_add(1);
  }

  const SaleBook& book_;
  std::vector<int> left_;  // StockLevelChanged still to come, per sale
  Latencies first_, all_;
  std::atomic<std::uint64_t> complete_{0};
  FanoutSubscriber sub_;  // last: its thread uses the members above
};

class OutboxNotified : public pqxx::notification_receiver {
 public:
  explicit OutboxNotified(pqxx::connection_base& c) : pqxx::notification_receiver(c, kChannel) {}
  void operator()(const std::string&, int) override {}
};

// Commit times of the sales (see the top).
class CommitWatcher {
 public:
  CommitWatcher(const std::string& url, const SaleBook& book)
      : conn_(url), listen_(conn_), book_(book), done_(book.size()) {
    pqxx::nontransaction tx(conn_);
    last_id_ = tx.exec1("SELECT coalesce(max(id), 0) FROM inventory.movement")[0].as<std::uint64_t>();
    thread_ = std::thread([this] { run(); });
  }
  ~CommitWatcher() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // After stop().
  Latencies& commits() { return commits_; }
  const std::string& failure() const { return failure_; }

 private:
  void run() {
    try {
      while (!stop_)
        if (conn_.await_notification(0, 20000) > 0) read_rows(Clock::now());
    } catch (const std::exception& e) {
      failure_ = e.what();
    }
  }

  void read_rows(Clock::time_point notified) {
    pqxx::nontransaction tx(conn_);
    for (const auto& row : tx.exec_params("SELECT id, event_id::text FROM inventory.movement WHERE id > $1", last_id_)) {
      last_id_ = std::max(last_id_, row[0].as<std::uint64_t>());
      const auto i = book_.find(row[1].as<std::string>());
      if (!i || done_[*i]) continue;
      done_[*i] = true;
      commits_.add(notified - book_.sent_at(*i));
    }
  }

  pqxx::connection conn_;
  OutboxNotified listen_;
  const SaleBook& book_;
  std::vector<bool> done_;
  std::uint64_t last_id_ = 0;  // of inventory.movement
  Latencies commits_;
  std::string failure_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last
};

// Slow joiner: sales until a StockLevelChanged comes back on the fan-out.
void join_fanout(const Options& o, Publisher& pub, const LevelWatcher& levels) {
  SaleMaker maker(o, 7);
  const auto deadline = Clock::now() + std::chrono::seconds(15);
  while (levels.seen() == 0) {
    if (Clock::now() > deadline)
      throw BenchError("no StockLevelChanged arrived on the fan-out " + o.ep.fanout + " within 15 s");
    pub.publish(maker.next()).wait_for(std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// Sends every sale of the book when the pacer says; returns the time after the last.
Clock::time_point send_paced(SaleBook& book, Publisher& pub, AckTally& acks, Pacer& pacer) {
  for (std::uint64_t n = 0; n < book.size(); ++n) {
    auto env = book.take(n);
    const auto t0 = pacer.wait(n);
    book.sent(n, t0);
    pub.publish(std::move(env), acks.callback(t0, "inventory_latency"));
  }
  return Clock::now();
}

// Until every sale's levels arrived; gives up when none arrives for 30 s,
// or after `timeout`. A relay that lags shows in e2e, not as a loss.
void await_levels(const LevelWatcher& levels, std::uint64_t sales, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto progress = std::make_pair(levels.seen(), Clock::now());
  while (levels.complete() < sales && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (levels.seen() != progress.first) progress = {levels.seen(), Clock::now()};
    if (Clock::now() - progress.second > std::chrono::seconds(30)) {
      fmt::print(stderr, "inventory_latency: no StockLevelChanged for 30 s; {} of {} sales complete\n",
                 levels.complete(), sales);
      return;
    }
  }
}

void add_latencies(Summary& s, std::string_view prefix, Latencies& l) {
  s.add(fmt::format("{}_p50_us", prefix), l.percentile_us(0.50))
      .add(fmt::format("{}_p99_us", prefix), l.percentile_us(0.99))
      .add(fmt::format("{}_max_us", prefix), l.max_us());
}

// ack_*, commit_* (if measured), e2e_first_*, e2e_*, e2e_complete. Returns
// the errors: sales not acknowledged or not complete, undecodable messages.
std::uint64_t add_latency_figures(Summary& s, std::uint64_t sales, AckTally& acks, CommitWatcher* commits,
                                  LevelWatcher& levels) {
  s.add("ack_p50_us", acks.ack.percentile_us(0.50)).add("ack_p99_us", acks.ack.percentile_us(0.99));
  if (commits) {
    add_latencies(s, "commit", commits->commits());
    s.add("commit_seen", static_cast<std::uint64_t>(commits->commits().size()));
    if (!commits->failure().empty()) fmt::print(stderr, "inventory_latency: commit probe: {}\n", commits->failure());
  }
  s.add("e2e_first_p50_us", levels.first().percentile_us(0.50))
      .add("e2e_first_p99_us", levels.first().percentile_us(0.99));
  add_latencies(s, "e2e", levels.all());
  s.add("e2e_complete", levels.complete());
  return acks.errors + (sales - std::min(sales, acks.acked + acks.errors)) + (sales - levels.complete()) +
         levels.bad();
}

}  // namespace

int run_inventory_latency(Args& args) {
  const auto o = read_options(args);
  const auto rate = args.integer("--rate", 1, 1'000'000).value_or(1000);
  const auto secs = args.integer("--seconds", 1, 86400).value_or(10);
  const bool commit_probe = !args.flag("--no-commit-probe");
  args.finish();

  LedgerProbe probe(o.db_url);
  auto daemon = start_daemon(o);
  load_catalog(o, probe, *daemon);
  SaleBook book(o, static_cast<std::uint64_t>(rate * secs));
  zmq::context_t ctx(1);
  LevelWatcher levels(ctx, o.ep.fanout, book);
  auto pub = connected_publisher(o.ep, 1000, 200, std::chrono::seconds(30));
  join_fanout(o, *pub, levels);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the warm-up sales settle
  const Baseline base = baseline(probe, daemon.get());
  std::optional<CommitWatcher> commits;
  if (commit_probe) commits.emplace(o.db_url, book);

  fmt::print(stderr, "inventory_latency: {} sales at {}/s for {} s\n", book.size(), rate, secs);
  AckTally acks;
  const auto start = Clock::now() + std::chrono::milliseconds(10);
  Pacer pacer(rate, start);
  const auto sent_at = send_paced(book, *pub, acks, pacer);
  if (!pub->flush(std::chrono::seconds(60))) fmt::print(stderr, "inventory_latency: not all acknowledged within 60 s\n");
  pub.reset();  // joins its I/O thread: `acks` is ours now
  await_levels(levels, book.size(), o.timeout);
  levels.stop();
  if (commits) commits->stop();

  Summary s("inventory_latency");
  s.add("rate", static_cast<std::int64_t>(rate))
      .add("seconds", static_cast<std::int64_t>(secs))
      .add("achieved_rate", per_second(book.size(), sent_at - start));
  const auto errors = add_latency_figures(s, book.size(), acks, commits ? &*commits : nullptr, levels);
  s.add("send_lag_max_us", pacer.max_lag_us());
  add_applied(s, probe.applied_since(base.position, base.outbox_id));
  add_daemon_figures(s, *daemon, probe, base);
  s.add("errors", errors);
  const int code = stop_daemon(s, *daemon);
  s.print();
  return errors == 0 && code == 0 ? 0 : 1;
}

}  // namespace eck::bench
