// publish: durable publish throughput. N threads, each with its own
// Publisher, publish as fast as the window lets them; every ack's latency is
// measured from the publish() call (including time blocked in it by the
// publisher's backpressure) to the ack callback.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench.h"
#include "eck/publisher.h"

namespace eck::bench {
namespace {

// Touched by the caller thread (setup) and the publisher's I/O thread
// (callbacks); read after flush(), which orders it after every callback.
struct Worker {
  std::unique_ptr<Publisher> pub;
  std::uint64_t count = 0;
  Latencies ack;
  std::uint64_t acked = 0, duplicates = 0, errors = 0;
  Clock::time_point last_ack{};
  bool flushed = false;
  std::string failure;
};

}  // namespace

// Opens a publisher and waits for one acknowledged event, so that the
// measurement starts with a connected broker.
std::unique_ptr<Publisher> connected_publisher(const Endpoints& ep, std::size_t window,
                                               std::size_t payload, std::chrono::seconds timeout) {
  PublisherOptions o;
  o.endpoint = ep.ingest;
  o.window = window;
  o.source = "eck-bench";
  auto pub = std::make_unique<Publisher>(o);
  auto f = pub->publish(product_envelope(payload, "BENCH-WARMUP"));
  if (f.wait_for(timeout) != std::future_status::ready)
    throw BenchError(fmt::format("no ack from the broker at {} within {} s", ep.ingest, timeout.count()));
  f.get();  // throws PublishError on a NACK
  return pub;
}

int run_publish(Args& args) {
  const auto ep = read_endpoints(args);
  const auto publishers = static_cast<std::size_t>(args.integer("--publishers", 1, 256).value_or(4));
  const auto events = static_cast<std::uint64_t>(args.integer("--events", 1, 1'000'000'000).value_or(200000));
  const auto window = static_cast<std::size_t>(args.integer("--window", 1, 1'000'000).value_or(1000));
  const auto payload = static_cast<std::size_t>(args.integer("--payload-bytes", 150, 1 << 20).value_or(200));
  const auto timeout = std::chrono::seconds(args.integer("--timeout-s", 1, 86400).value_or(600));
  args.finish();

  const std::size_t payload_bytes = product_envelope(payload, "SKU-00-000000000").ByteSizeLong();
  std::vector<Worker> workers(publishers);
  for (std::size_t i = 0; i < publishers; ++i) {
    workers[i].count = events / publishers + (i < events % publishers ? 1 : 0);
    workers[i].ack.reserve(workers[i].count);
    workers[i].pub = connected_publisher(ep, window, payload, std::chrono::seconds(30));
  }
  fmt::print(stderr, "publish: {} publishers connected; publishing {} events of {} bytes\n", publishers,
             events, payload_bytes);

  std::latch go(1);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < publishers; ++i) {
    threads.emplace_back([&, i] {
      Worker& w = workers[i];
      go.wait();
      try {
        for (std::uint64_t n = 0; n < w.count; ++n) {
          auto env = product_envelope(payload, fmt::format("SKU-{:02}-{:09}", i % 100, n));
          const auto t0 = Clock::now();
          w.pub->publish(std::move(env), [&w, t0](const Ack* ack, const PublishError* err) {
            const auto now = Clock::now();
            if (ack) {
              w.ack.add(now - t0);
              ++w.acked;
              if (ack->duplicate) ++w.duplicates;
              w.last_ack = now;
            } else {
              ++w.errors;
              if (w.errors <= 3 && err) fmt::print(stderr, "publish: refused: {}\n", err->what());
            }
          });
        }
        w.flushed = w.pub->flush(timeout);
        if (!w.flushed) w.failure = fmt::format("not all acknowledged within {} s", timeout.count());
      } catch (const std::exception& e) {
        w.failure = e.what();
      }
    });
  }
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  const auto t1 = Clock::now();
  const double cpu = process_cpu_seconds() - cpu0;

  Latencies all;
  all.reserve(events);
  std::uint64_t acked = 0, duplicates = 0, errors = 0;
  Clock::time_point last_ack = t0;
  for (auto& w : workers) {
    if (!w.failure.empty()) {
      fmt::print(stderr, "publish: publisher failed: {}\n", w.failure);
      // Its callbacks may still run: stop its I/O thread before reading.
      w.pub.reset();
    }
    all.merge(w.ack);
    acked += w.acked;
    duplicates += w.duplicates;
    errors += w.errors;
    last_ack = std::max(last_ack, w.last_ack);
  }
  errors += events - std::min(events, acked + errors);  // never answered
  const double elapsed = seconds((acked ? last_ack : t1) - t0);
  Summary("publish")
      .add("publishers", static_cast<std::uint64_t>(publishers))
      .add("events", events)
      .add("payload_bytes", static_cast<std::uint64_t>(payload_bytes))
      .add("events_per_s", elapsed > 0 ? static_cast<std::int64_t>(acked / elapsed) : 0)
      .add("ack_p50_us", all.percentile_us(0.50))
      .add("ack_p99_us", all.percentile_us(0.99))
      .add("ack_max_us", all.max_us())
      .add("duplicates", duplicates)
      .add("errors", errors)
      .add("seconds", elapsed, 2)
      .add("client_cpu_s", cpu, 2)
      .print();
  return errors == 0 ? 0 : 1;
}

}  // namespace eck::bench
