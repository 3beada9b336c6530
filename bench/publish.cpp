// publish: durable publish throughput. N threads, each with its own
// Publisher, publish as fast as the window lets them; every ack's latency is
// measured from the publish() call (including time blocked in it by the
// publisher's backpressure) to the ack callback.
#include <algorithm>
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

// Touched by the caller thread (setup), the worker thread (publishing) and
// the publisher's I/O thread (callbacks); read after flush(), which orders it
// after every callback.
struct Worker {
  std::unique_ptr<Publisher> pub;
  std::uint64_t count = 0;
  AckTally tally;
  std::string failure;
};

void publish_worker(Worker& w, std::size_t worker, std::chrono::seconds timeout, const MakeEnvelope& make) {
  try {
    for (std::uint64_t n = 0; n < w.count; ++n) {
      auto env = make(worker, n);
      w.pub->publish(std::move(env), w.tally.callback(Clock::now(), "publish"));
    }
    if (!w.pub->flush(timeout)) w.failure = fmt::format("not all acknowledged within {} s", timeout.count());
  } catch (const std::exception& e) {
    w.failure = e.what();
  }
}

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

PublishRun publish_parallel(const Endpoints& ep, std::size_t publishers, std::uint64_t events,
                            std::size_t window, std::chrono::seconds timeout, const MakeEnvelope& make) {
  std::vector<Worker> workers(publishers);
  for (std::size_t i = 0; i < publishers; ++i) {
    workers[i].count = events / publishers + (i < events % publishers ? 1 : 0);
    workers[i].tally.ack.reserve(workers[i].count);
    workers[i].pub = connected_publisher(ep, window, 200, std::chrono::seconds(30));
  }
  fmt::print(stderr, "publish: {} publishers connected; publishing {} events\n", publishers, events);

  std::latch go(1);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < publishers; ++i)
    threads.emplace_back([&, i] {
      go.wait();
      publish_worker(workers[i], i, timeout, make);
    });
  PublishRun run;
  run.events = events;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = run.started = Clock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  const auto t1 = Clock::now();
  run.client_cpu_s = process_cpu_seconds() - cpu0;

  run.ack.reserve(events);
  Clock::time_point last_ack = t0;
  for (auto& w : workers) {
    if (!w.failure.empty()) {
      fmt::print(stderr, "publish: publisher failed: {}\n", w.failure);
      // Its callbacks may still run: stop its I/O thread before reading.
      w.pub.reset();
    }
    const AckTally& t = w.tally;
    run.ack.merge(t.ack);
    run.acked += t.acked;
    run.duplicates += t.duplicates;
    run.errors += t.errors;
    run.max_seq = std::max(run.max_seq, t.max_seq);
    last_ack = std::max(last_ack, t.last_ack);
  }
  run.errors += events - std::min(events, run.acked + run.errors);  // never answered
  run.took = (run.acked ? last_ack : t1) - t0;
  return run;
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
  fmt::print(stderr, "publish: events of {} bytes\n", payload_bytes);
  auto run = publish_parallel(ep, publishers, events, window, timeout, [&](std::size_t i, std::uint64_t n) {
    return product_envelope(payload, fmt::format("SKU-{:02}-{:09}", i % 100, n));
  });
  const double elapsed = seconds(run.took);
  Summary("publish")
      .add("publishers", static_cast<std::uint64_t>(publishers))
      .add("events", events)
      .add("payload_bytes", static_cast<std::uint64_t>(payload_bytes))
      .add("events_per_s", elapsed > 0 ? static_cast<std::int64_t>(run.acked / elapsed) : 0)
      .add("ack_p50_us", run.ack.percentile_us(0.50))
      .add("ack_p99_us", run.ack.percentile_us(0.99))
      .add("ack_max_us", run.ack.max_us())
      .add("duplicates", run.duplicates)
      .add("errors", run.errors)
      .add("seconds", elapsed, 2)
      .add("client_cpu_s", run.client_cpu_s, 2)
      .print();
  return run.errors == 0 ? 0 : 1;
}

}  // namespace eck::bench
