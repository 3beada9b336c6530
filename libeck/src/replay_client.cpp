#include "replay_client.h"

#include <cerrno>

#include <zmq_addon.hpp>

namespace eck::detail {

ReplayClient::ReplayClient(zmq::context_t& ctx, const std::string& endpoint, std::string name)
    : sock_(ctx, zmq::socket_type::dealer), name_(std::move(name)) {
  sock_.set(zmq::sockopt::linger, 0);
  sock_.set(zmq::sockopt::immediate, 1);
  sock_.set(zmq::sockopt::reconnect_ivl, 100);
  sock_.set(zmq::sockopt::reconnect_ivl_max, 2000);
  // Unlimited: a reply stream is bounded by max_events anyway, and a full
  // queue here would make the broker's ROUTER drop events from the middle
  // of a stream.
  sock_.set(zmq::sockopt::rcvhwm, 0);
  sock_.set(zmq::sockopt::heartbeat_ivl, 1000);
  sock_.set(zmq::sockopt::heartbeat_timeout, 5000);
  sock_.connect(endpoint);
}

bool ReplayClient::request(std::uint64_t from_seq, std::uint32_t max_events,
                           const std::vector<std::string>& prefixes) {
  current_.clear();
  std::string id = name_ + "/" + std::to_string(++counter_);
  std::vector<std::string> frames{std::string(wire::kVersion), std::string(wire::kReplay), id,
                                   wire::u64_frame(from_seq), wire::u32_frame(max_events)};
  for (const auto& p : prefixes) {
    // "" matches everything, which is also what an empty list means.
    if (p.empty()) {
      frames.resize(5);
      break;
    }
    frames.push_back(p);
  }
  const auto flags = zmq::send_flags::dontwait;
  if (!sock_.send(zmq::buffer(frames[0]), flags | zmq::send_flags::sndmore)) return false;
  for (std::size_t i = 1; i < frames.size(); ++i)
    (void)sock_.send(zmq::buffer(frames[i]),
                     i + 1 < frames.size() ? flags | zmq::send_flags::sndmore : flags);
  current_ = std::move(id);
  from_ = from_seq;
  return true;
}

std::optional<ReplayReply> ReplayClient::next() {
  for (;;) {
    std::vector<zmq::message_t> f;
    zmq::recv_result_t got;
    try {
      got = zmq::recv_multipart(sock_, std::back_inserter(f), zmq::recv_flags::dontwait);
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      throw;
    }
    if (!got) return std::nullopt;
    // Anything not clearly addressed to the current request is dropped:
    // late answers to an earlier request are expected, garbage is not ours
    // to interpret.
    if (f.size() < 3 || f[0].to_string_view() != wire::kVersion) continue;
    if (current_.empty() || f[2].to_string_view() != current_) continue;
    const auto cmd = f[1].to_string_view();
    if (cmd == wire::kEvent) {
      if (f.size() != 6) {
        current_.clear();
        return ReplayMalformed{"EVENT with " + std::to_string(f.size()) + " frames"};
      }
      auto meta = wire::decode_meta(f[4].to_string_view());
      if (!meta) {
        current_.clear();
        return ReplayMalformed{"EVENT meta of " + std::to_string(f[4].size()) + " bytes"};
      }
      return ReplayEvent{f[3].to_string(), *meta, f[5].to_string()};
    }
    if (cmd == wire::kEnd) {
      current_.clear();
      auto scanned = f.size() == 5 ? wire::get_u64(f[3].to_string_view()) : std::nullopt;
      auto head = f.size() == 5 ? wire::get_u64(f[4].to_string_view()) : std::nullopt;
      if (!scanned || !head) return ReplayMalformed{"malformed END"};
      return ReplayEnd{*scanned, *head};
    }
    if (cmd == wire::kError) {
      current_.clear();
      if (f.size() != 5) return ReplayMalformed{"malformed ERROR"};
      return ReplayError{f[3].to_string(), f[4].to_string()};
    }
    current_.clear();
    return ReplayMalformed{"unknown command '" + std::string(cmd.substr(0, 32)) + "'"};
  }
}

}  // namespace eck::detail
