#include "replay_server.h"

#include <algorithm>
#include <array>

#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include "eck/wire.h"

namespace eck::broker {
namespace {

using Frames = std::vector<std::string>;

bool send_all(zmq::socket_t& s, const Frames& frames) {
  // ROUTER_MANDATORY: a vanished peer or a full queue fails the send instead
  // of silently dropping; the client re-asks after its timeout.
  try {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      auto flags = zmq::send_flags::dontwait;
      if (i + 1 < frames.size()) flags = flags | zmq::send_flags::sndmore;
      if (!s.send(zmq::buffer(frames[i]), flags)) return false;
    }
    return true;
  } catch (const zmq::error_t&) {
    return false;
  }
}

}  // namespace

ReplayServer::ReplayServer(zmq::context_t& ctx, const std::string& endpoint, DatabaseOptions db)
    : sock_(ctx, zmq::socket_type::router), db_(std::move(db)) {
  sock_.set(zmq::sockopt::router_mandatory, 1);
  sock_.set(zmq::sockopt::sndhwm, static_cast<int>(3 * wire::kMaxReplayBatch));
  sock_.set(zmq::sockopt::linger, 0);
  sock_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(1 << 20));
  sock_.bind(endpoint);
}

ReplayServer::~ReplayServer() { stop(); }

void ReplayServer::start() { thread_ = std::thread([this] { run(); }); }

void ReplayServer::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void ReplayServer::run() {
  while (!stop_) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, std::chrono::milliseconds(100));
    if (!(items[0].revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> frames;
    if (!zmq::recv_multipart(sock_, std::back_inserter(frames), zmq::recv_flags::dontwait)) continue;
    if (frames.empty()) continue;
    std::string peer = frames.front().to_string();
    frames.erase(frames.begin());
    serve(peer, frames);
  }
}

void ReplayServer::serve(const std::string& peer, const std::vector<zmq::message_t>& frames) {
  auto error = [&](const std::string& request_id, wire::Code code, const std::string& reason) {
    send_all(sock_, {peer, std::string(wire::kVersion), std::string(wire::kError), request_id,
                     std::string(wire::code_name(code)), reason});
  };
  if (frames.empty() || frames[0].to_string_view() != wire::kVersion)
    return error("", wire::Code::kBadVersion, "first frame must be \"ECK1\"");
  if (frames.size() < 2 || frames[1].to_string_view() != wire::kReplay)
    return error("", wire::Code::kBadCommand, "the replay endpoint only takes REPLAY");
  if (frames.size() < 5)
    return error(frames.size() > 2 ? frames[2].to_string() : "", wire::Code::kBadFrames,
                 "REPLAY takes [ECK1, REPLAY, request_id, from_seq:u64, max_events:u32, prefix...]");
  const std::string request_id = frames[2].to_string();
  auto from = wire::get_u64(frames[3].to_string_view());
  auto max = wire::get_u32(frames[4].to_string_view());
  if (!from || !max)
    return error(request_id, wire::Code::kBadFrames, "from_seq must be 8 bytes, max_events 4 bytes");
  std::uint64_t first = std::max<std::uint64_t>(*from, 1);
  std::uint32_t limit = (*max == 0 || *max > wire::kMaxReplayBatch) ? wire::kMaxReplayBatch : *max;

  std::uint64_t head = 0, scanned_to = 0;
  std::vector<std::array<std::string, 3>> rows;  // topic, meta, envelope
  try {
    auto& conn = db_.connection();
    pqxx::read_transaction tx(conn);
    head = tx.exec1("SELECT coalesce(max(seq), 0) FROM journal")[0].as<std::uint64_t>();
    if (first > head) {
      scanned_to = first - 1;
    } else {
      std::uint64_t upper = std::min(head, first + kScanWindow - 1);
      std::string filter;
      for (std::size_t i = 5; i < frames.size(); ++i) {
        if (frames[i].size() == 0) {  // "" matches everything
          filter.clear();
          break;
        }
        filter += (filter.empty() ? " AND (" : " OR ");
        filter += "starts_with(topic, " + tx.quote(frames[i].to_string()) + ")";
      }
      if (!filter.empty()) {
        filter += ")";
        // Walk the primary key in order and stop at the limit; never let a
        // stale estimate turn this into a sort of the whole window.
        tx.exec0("SET LOCAL enable_sort = off");
        tx.exec0("SET LOCAL enable_bitmapscan = off");
      } else {
        // The journal has no gaps: without a filter the range is exact.
        upper = std::min(upper, first + limit - 1);
      }
      auto res = tx.exec("SELECT seq, topic, prev_topic_seq, envelope FROM journal WHERE seq BETWEEN " +
                         std::to_string(first) + " AND " + std::to_string(upper) + filter +
                         " ORDER BY seq LIMIT " + std::to_string(limit));
      rows.reserve(res.size());
      for (const auto& r : res) {
        const auto seq = r[0].as<std::uint64_t>();
        rows.push_back({r[1].as<std::string>(), wire::encode_meta({seq, r[2].as<std::uint64_t>()}),
                        pqxx::binarystring(r[3]).str()});
        scanned_to = seq;
      }
      if (res.size() < limit) scanned_to = upper;
    }
  } catch (const pqxx::broken_connection&) {
    db_.reset();
    return error(request_id, wire::Code::kUnavailable, "journal database unreachable");
  } catch (const std::exception& e) {
    db_.reset();
    spdlog::error("replay query failed: {}", e.what());
    return error(request_id, wire::Code::kUnavailable, "journal query failed");
  }

  const std::string version(wire::kVersion), event(wire::kEvent);
  for (auto& row : rows) {
    if (!send_all(sock_, {peer, version, event, request_id, std::move(row[0]), std::move(row[1]),
                          std::move(row[2])})) {
      spdlog::debug("replay peer gone or full; abandoning request");
      return;
    }
  }
  send_all(sock_, {peer, version, std::string(wire::kEnd), request_id, wire::u64_frame(scanned_to),
                   wire::u64_frame(head)});
  ++served_;
}

}  // namespace eck::broker
