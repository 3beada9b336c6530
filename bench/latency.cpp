// latency: one publisher at a fixed rate, paced (sleep until each scheduled
// send time). Measures publish() -> ack, and publish() -> the event arriving
// on a SUB socket on the fan-out (the send time travels in Envelope.subject
// as steady_clock nanoseconds; publisher and subscriber share this process's
// clock).
#include <atomic>
#include <charconv>
#include <chrono>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <zmq.hpp>

#include "bench.h"
#include "eck/events.h"
#include "fanout_subscriber.h"

namespace eck::bench {
namespace {

constexpr std::string_view kStampPrefix = "bench-e2e:";
constexpr std::string_view kTopic = "catalog.ProductUpserted";

std::string stamp(Clock::time_point t) {
  return fmt::format("{}{:020}", kStampPrefix, t.time_since_epoch().count());
}

std::optional<Clock::time_point> parse_stamp(std::string_view s) {
  if (s.substr(0, kStampPrefix.size()) != kStampPrefix) return std::nullopt;
  s.remove_prefix(kStampPrefix.size());
  Clock::rep v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return Clock::time_point(Clock::duration(v));
}

// Receives ProductUpserted events from the fan-out; stamped ones become e2e
// samples, anything else (warm-up events) only counts as "seen".
class Subscriber {
 public:
  Subscriber(zmq::context_t& ctx, const std::string& endpoint)
      : sub_(ctx, endpoint, kTopic, [this](const v1::Envelope& env, Clock::time_point now) {
          if (auto t = parse_stamp(env.subject())) {
            e2e_.add(now - *t);
            stamped_.fetch_add(1);
          }
        }) {}

  void stop() { sub_.stop(); }
  std::uint64_t seen() const { return sub_.seen(); }
  std::uint64_t stamped() const { return stamped_.load(); }
  // After stop().
  Latencies& e2e() { return e2e_; }
  std::uint64_t bad() const { return sub_.bad(); }

 private:
  Latencies e2e_;
  std::atomic<std::uint64_t> stamped_{0};
  FanoutSubscriber sub_;  // last: its thread uses the members above
};

}  // namespace

int run_latency(Args& args) {
  const auto ep = read_endpoints(args);
  const auto rate = args.integer("--rate", 1, 1'000'000).value_or(2000);
  const auto secs = args.integer("--seconds", 1, 86400).value_or(10);
  const auto window = static_cast<std::size_t>(args.integer("--window", 1, 1'000'000).value_or(1000));
  const auto payload = static_cast<std::size_t>(args.integer("--payload-bytes", 150, 1 << 20).value_or(200));
  args.finish();

  zmq::context_t ctx(1);
  Subscriber sub(ctx, ep.fanout);
  auto pub = connected_publisher(ep, window, payload, std::chrono::seconds(30));
  // Slow joiner: the subscription reaches the broker asynchronously. Publish
  // warm-up events until one comes back on the fan-out.
  const auto joined_by = Clock::now() + std::chrono::seconds(10);
  while (sub.seen() == 0) {
    if (Clock::now() > joined_by)
      throw BenchError("no event arrived on the fan-out " + ep.fanout + " within 10 s");
    pub->publish(product_envelope(payload, "BENCH-WARMUP")).wait_for(std::chrono::seconds(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  const std::uint64_t total = static_cast<std::uint64_t>(rate * secs);
  fmt::print(stderr, "latency: {} events at {}/s for {} s\n", total, rate, secs);
  AckTally acks;
  acks.ack.reserve(total);
  const double cpu0 = process_cpu_seconds();
  const auto start = Clock::now() + std::chrono::milliseconds(10);
  Pacer pacer(rate, start);
  for (std::uint64_t n = 0; n < total; ++n) {
    // Build before the scheduled time; only the stamp is set at send time.
    auto env = product_envelope(payload, fmt::format("SKU-L-{:09}", n), stamp(Clock::time_point{}));
    const auto t0 = pacer.wait(n);
    env.set_subject(stamp(t0));
    pub->publish(std::move(env), acks.callback(t0, "latency"));
  }
  const auto sent_at = Clock::now();
  if (!pub->flush(std::chrono::seconds(60))) fmt::print(stderr, "latency: not all acknowledged within 60 s\n");
  pub.reset();  // joins the I/O thread: `acks` is ours now
  const auto wait_until = Clock::now() + std::chrono::seconds(5);
  while (sub.stamped() < total && Clock::now() < wait_until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  sub.stop();
  const double cpu = process_cpu_seconds() - cpu0;
  const std::uint64_t errors = acks.errors + total - std::min(total, acks.acked + acks.errors);
  const double achieved = static_cast<double>(total) / seconds(sent_at - start);

  Summary("latency")
      .add("rate", static_cast<std::int64_t>(rate))
      .add("seconds", static_cast<std::int64_t>(secs))
      .add("events", total)
      .add("achieved_rate", static_cast<std::int64_t>(achieved))
      .add("ack_p50_us", acks.ack.percentile_us(0.50))
      .add("ack_p99_us", acks.ack.percentile_us(0.99))
      .add("ack_p999_us", acks.ack.percentile_us(0.999))
      .add("ack_max_us", acks.ack.max_us())
      .add("e2e_p50_us", sub.e2e().percentile_us(0.50))
      .add("e2e_p99_us", sub.e2e().percentile_us(0.99))
      .add("e2e_max_us", sub.e2e().max_us())
      .add("e2e_received", static_cast<std::uint64_t>(sub.e2e().size()))
      .add("send_lag_max_us", pacer.max_lag_us())
      .add("errors", errors + sub.bad())
      .add("client_cpu_s", cpu, 2)
      .print();
  return errors == 0 ? 0 : 1;
}

}  // namespace eck::bench
