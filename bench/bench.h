// eck-bench internals: what every scenario shares (endpoints, latency
// statistics, the summary line, the padded test event).
//
// Adding a scenario: write `int run_<name>(Args&)` in its own file (read its
// options, call args.finish(), print one Summary line), declare it below and
// add one row to kScenarios in eck_bench.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "eck/args.h"
#include "eck/publisher.h"
#include "eck/v1/envelope.pb.h"

namespace eck::bench {

using Clock = std::chrono::steady_clock;

// A failure while running (broker unreachable, timeouts): exit status 1.
class BenchError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Endpoints {
  std::string ingest = "tcp://127.0.0.1:5570";
  std::string fanout = "tcp://127.0.0.1:5571";
  std::string replay = "tcp://127.0.0.1:5572";
};
// --ingest, --fanout, --replay.
Endpoints read_endpoints(Args& args);

// Latency samples in nanoseconds; percentiles reported in microseconds.
class Latencies {
 public:
  void reserve(std::size_t n) { ns_.reserve(n); }
  void add(Clock::duration d) { ns_.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count()); }
  void merge(const Latencies& other) { ns_.insert(ns_.end(), other.ns_.begin(), other.ns_.end()); }
  std::size_t size() const { return ns_.size(); }
  // Nearest-rank percentile, q in (0, 1]; 0 when empty. Sorts on first use.
  std::int64_t percentile_us(double q);
  std::int64_t max_us();

 private:
  void sort();
  std::vector<std::int64_t> ns_;
  bool sorted_ = false;
};

// One stdout line: "scenario=<name> key=value ...".
class Summary {
 public:
  explicit Summary(std::string_view scenario);
  Summary& add(std::string_view key, std::string_view value);
  Summary& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  Summary& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  Summary& add(std::string_view key, std::int64_t value);
  Summary& add(std::string_view key, std::uint64_t value);
  Summary& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  Summary& add(std::string_view key, double value, int decimals);
  // Writes the line to stdout and flushes.
  void print() const;

 private:
  std::string line_;
};

// A catalog.ProductUpserted envelope with every attribute the publisher
// would fill in already set (fresh UUIDv7 event_id, type, occurred_at,
// source), and the product name padded so that the serialized envelope is
// `target_bytes` long (or as close as protobuf's varints allow). `subject`
// is set before padding: overwrite it later with a string of the same length
// and the size stays.
v1::Envelope product_envelope(std::size_t target_bytes, std::string_view sku,
                              std::string_view subject = {});

// A Publisher on ep.ingest that has had one warm-up event acknowledged, so a
// measurement starts with a connected broker. Throws BenchError on timeout.
std::unique_ptr<Publisher> connected_publisher(const Endpoints& ep, std::size_t window,
                                               std::size_t payload, std::chrono::seconds timeout);

// The answers to one Publisher's events, counted by the callbacks it runs on
// its I/O thread: read them after flush() or once the Publisher is gone.
struct AckTally {
  Latencies ack;  // publish() call -> ack
  std::uint64_t acked = 0, duplicates = 0, errors = 0;
  std::uint64_t max_seq = 0;  // of the acknowledged events
  Clock::time_point last_ack{};
  // The callback for an event published at t0; the first NACKs are printed
  // as "<label>: refused: ...".
  Publisher::Callback callback(Clock::time_point t0, std::string_view label);
};

// The n-th envelope (from 0) of publisher `worker`.
using MakeEnvelope = std::function<v1::Envelope(std::size_t worker, std::uint64_t n)>;

struct PublishRun {
  std::uint64_t events = 0, acked = 0, duplicates = 0, errors = 0;  // errors: NACKed or never answered
  std::uint64_t max_seq = 0;  // of the acknowledged events
  Latencies ack;              // publish() call (blocked time included) -> ack
  Clock::time_point started{};  // when the publishers were let go
  Clock::duration took{};       // start -> last ack
  double client_cpu_s = 0;
};

// `events` envelopes split over `publishers` threads with a connected_publisher
// each, published as fast as `window` lets them. make() runs on the worker's
// thread before the clock of its event starts. Waits `timeout` for the acks.
PublishRun publish_parallel(const Endpoints& ep, std::size_t publishers, std::uint64_t events,
                            std::size_t window, std::chrono::seconds timeout, const MakeEnvelope& make);

// Sending at a fixed rate from `start`: wait(n) sleeps until the n-th
// (from 0) send time and returns the time it woke up.
class Pacer {
 public:
  Pacer(std::int64_t per_second, Clock::time_point start);
  Clock::time_point wait(std::uint64_t n);
  // The latest wake-up after a send time so far.
  Clock::duration max_lag() const { return max_lag_; }
  std::int64_t max_lag_us() const;

 private:
  Clock::time_point start_;
  Clock::duration period_;
  Clock::duration max_lag_{};
};

double seconds(Clock::duration d);
// User + system CPU time this process used so far, in seconds.
double process_cpu_seconds();

int run_publish(Args& args);
int run_latency(Args& args);
int run_replay(Args& args);
int run_startup(Args& args);
int run_inventory_load(Args& args);
int run_inventory_throughput(Args& args);
int run_inventory_latency(Args& args);
// eck-pos receipts rendered in process (receipt_render.cpp).
int run_receipt_render(Args& args);
// eck-pos recording a backlog of sales (pos_throughput.cpp).
int run_pos_throughput(Args& args);

}  // namespace eck::bench
