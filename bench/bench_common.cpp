#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>
#include <zmq.hpp>

#include "bench.h"
#include "eck/uuid.h"

namespace eck::bench {

Endpoints read_endpoints(Args& args) {
  Endpoints e;
  // A malformed endpoint is a command-line error (exit 2), not a failed run:
  // let ZeroMQ judge it now. connect() needs no peer, so this is offline.
  zmq::context_t ctx(1);
  auto read = [&](const std::string& name, std::string& out) {
    out = args.value(name).value_or(out);
    zmq::socket_t probe(ctx, zmq::socket_type::dealer);
    probe.set(zmq::sockopt::linger, 0);
    try {
      probe.connect(out);
    } catch (const zmq::error_t& err) {
      throw UsageError(name + " '" + out + "': not a ZeroMQ endpoint (" + err.what() + ")");
    }
  };
  read("--ingest", e.ingest);
  read("--fanout", e.fanout);
  read("--replay", e.replay);
  return e;
}

void Latencies::sort() {
  if (!sorted_) std::sort(ns_.begin(), ns_.end());
  sorted_ = true;
}

std::int64_t Latencies::percentile_us(double q) {
  if (ns_.empty()) return 0;
  sort();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ns_.size())));
  rank = std::clamp<std::size_t>(rank, 1, ns_.size());
  return ns_[rank - 1] / 1000;
}

std::int64_t Latencies::max_us() {
  if (ns_.empty()) return 0;
  sort();
  return ns_.back() / 1000;
}

Summary::Summary(std::string_view scenario) : line_("scenario=" + std::string(scenario)) {}

Summary& Summary::add(std::string_view key, std::string_view value) {
  line_ += ' ';
  line_ += key;
  line_ += '=';
  line_ += value;
  return *this;
}

Summary& Summary::add(std::string_view key, std::int64_t value) { return add(key, std::to_string(value)); }
Summary& Summary::add(std::string_view key, std::uint64_t value) { return add(key, std::to_string(value)); }
Summary& Summary::add(std::string_view key, double value, int decimals) {
  return add(key, fmt::format("{:.{}f}", value, decimals));
}

void Summary::print() const {
  std::fputs((line_ + "\n").c_str(), stdout);
  std::fflush(stdout);
}

v1::Envelope product_envelope(std::size_t target_bytes, std::string_view sku, std::string_view subject) {
  v1::Envelope env;
  env.set_subject(std::string(subject));
  env.set_event_id(new_uuid_v7());
  env.set_source("eck-bench");
  env.set_type("eck.v1.ProductUpserted");
  *env.mutable_occurred_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  auto* p = env.mutable_product_upserted();
  p->set_sku(std::string(sku));
  p->set_unit("pcs");
  // Growing the name also grows up to two length prefixes (the name's and the
  // payload's), so converge instead of computing: two or three rounds.
  const auto base = static_cast<long>(env.ByteSizeLong());
  long len = std::max(0L, static_cast<long>(target_bytes) - base - 3);
  for (int round = 0; round < 6; ++round) {
    p->set_name(std::string(static_cast<std::size_t>(len), 'n'));
    const long diff = static_cast<long>(env.ByteSizeLong()) - static_cast<long>(target_bytes);
    if (diff == 0 || (diff > 0 && len == 0)) break;
    len = std::max(0L, len - diff);
  }
  return env;
}

Publisher::Callback AckTally::callback(Clock::time_point t0, std::string_view label) {
  return [this, t0, label](const Ack* a, const PublishError* err) {
    const auto now = Clock::now();
    if (a) {
      ack.add(now - t0);
      ++acked;
      if (a->duplicate) ++duplicates;
      max_seq = std::max(max_seq, a->seq);
      last_ack = now;
    } else {
      ++errors;
      if (errors <= 3 && err) fmt::print(stderr, "{}: refused: {}\n", label, err->what());
    }
  };
}

Pacer::Pacer(std::int64_t per_second, Clock::time_point start)
    : start_(start),
      period_(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / static_cast<double>(per_second)))) {}

Clock::time_point Pacer::wait(std::uint64_t n) {
  const auto due = start_ + static_cast<Clock::rep>(n) * period_;
  std::this_thread::sleep_until(due);
  const auto now = Clock::now();
  max_lag_ = std::max(max_lag_, now - due);
  return now;
}

std::int64_t Pacer::max_lag_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(max_lag_).count();
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double process_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

}  // namespace eck::bench
