// replay: reads the whole journal from seq 1 through the replay endpoint,
// one request in flight at a time (the protocol's flow control), following
// scanned_to until the head. Every envelope is decoded.
#include <chrono>
#include <string>

#include <fmt/format.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench.h"
#include "eck/v1/envelope.pb.h"
#include "eck/wire.h"

namespace eck::bench {

int run_replay(Args& args) {
  const auto ep = read_endpoints(args);
  const auto batch = static_cast<std::uint32_t>(args.integer("--batch", 1, wire::kMaxReplayBatch).value_or(wire::kMaxReplayBatch));
  const auto from_seq = static_cast<std::uint64_t>(args.integer("--from", 1, INT64_MAX).value_or(1));
  const auto timeout = std::chrono::seconds(args.integer("--timeout-s", 1, 3600).value_or(30));
  args.finish();

  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  sock.set(zmq::sockopt::rcvhwm, 0);  // a whole answer may queue here
  sock.connect(ep.replay);

  std::uint64_t from = from_seq, events = 0, bytes = 0, requests = 0, errors = 0, head = 0;
  std::uint64_t expect = from_seq;  // no prefix filter: seqs must be contiguous
  v1::Envelope env;
  std::vector<zmq::message_t> f;
  const double cpu0 = process_cpu_seconds();
  const auto t0 = Clock::now();
  for (;;) {
    const std::string request_id = "r" + std::to_string(++requests);
    const std::string from_frame = wire::u64_frame(from), max_frame = wire::u32_frame(batch);
    sock.send(zmq::buffer(wire::kVersion), zmq::send_flags::sndmore);
    sock.send(zmq::buffer(wire::kReplay), zmq::send_flags::sndmore);
    sock.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    sock.send(zmq::buffer(from_frame), zmq::send_flags::sndmore);
    sock.send(zmq::buffer(max_frame), zmq::send_flags::none);
    std::uint64_t scanned_to = 0;
    for (;;) {
      // Drain without polling; poll (one syscall per wake-up, not per
      // event) only when nothing is queued.
      f.clear();
      if (!zmq::recv_multipart(sock, std::back_inserter(f), zmq::recv_flags::dontwait)) {
        zmq::pollitem_t items[] = {{sock.handle(), 0, ZMQ_POLLIN, 0}};
        if (zmq::poll(items, 1, timeout) == 0)
          throw BenchError(fmt::format("no answer from the replay endpoint {} within {} s (request from seq {})",
                                       ep.replay, timeout.count(), from));
        continue;
      }
      if (f.size() < 3 || f[0].to_string_view() != wire::kVersion)
        throw BenchError(fmt::format("malformed replay answer ({} frames)", f.size()));
      const auto kind = f[1].to_string_view();
      if (f[2].to_string_view() != request_id) continue;  // late answer to an older request
      if (kind == wire::kEvent && f.size() == 6) {
        auto meta = wire::decode_meta(f[4].to_string_view());
        if (!meta || !env.ParseFromArray(f[5].data(), static_cast<int>(f[5].size()))) {
          ++errors;
          continue;
        }
        if (meta->seq != expect) ++errors;
        expect = meta->seq + 1;
        ++events;
        bytes += f[5].size();
      } else if (kind == wire::kEnd && f.size() == 5) {
        scanned_to = wire::get_u64(f[3].to_string_view()).value_or(0);
        head = wire::get_u64(f[4].to_string_view()).value_or(0);
        break;
      } else if (kind == wire::kError && f.size() == 5) {
        throw BenchError("replay ERROR " + f[3].to_string() + ": " + f[4].to_string());
      } else {
        throw BenchError("unexpected replay answer " + std::string(kind));
      }
    }
    if (scanned_to >= head) break;
    if (scanned_to + 1 <= from) throw BenchError("replay made no progress at seq " + std::to_string(from));
    from = scanned_to + 1;
  }
  const double elapsed = seconds(Clock::now() - t0);
  const double cpu = process_cpu_seconds() - cpu0;
  Summary("replay")
      .add("events", events)
      .add("requests", requests)
      .add("head", head)
      .add("replay_events_per_s", elapsed > 0 ? static_cast<std::int64_t>(events / elapsed) : 0)
      .add("mb_per_s", elapsed > 0 ? bytes / elapsed / 1e6 : 0.0, 1)
      .add("seconds", elapsed, 2)
      .add("errors", errors)
      .add("client_cpu_s", cpu, 2)
      .print();
  return errors == 0 ? 0 : 1;
}

}  // namespace eck::bench
