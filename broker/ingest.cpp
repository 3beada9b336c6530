#include "ingest.h"

#include "eck/events.h"
#include "eck/uuid.h"
#include "eck/v1/envelope.pb.h"

namespace eck::broker {

std::variant<Publish, Nack> parse_publish(std::string peer, const std::vector<std::string_view>& frames,
                                          std::size_t max_event_bytes) {
  auto nack = [&](wire::Code c, std::string reason, std::string id = {}) {
    return Nack{peer, std::move(id), c, std::move(reason)};
  };
  if (frames.empty()) return nack(wire::Code::kBadFrames, "empty message");
  if (frames[0] != wire::kVersion)
    return nack(wire::Code::kBadVersion,
                "first frame must be \"ECK1\" (got " + std::to_string(frames[0].size()) + " bytes)");
  if (frames.size() < 2) return nack(wire::Code::kBadFrames, "missing command frame");
  if (frames[1] != wire::kPub)
    return nack(wire::Code::kBadCommand, "unknown command '" + std::string(frames[1].substr(0, 32)) +
                                             "' on the ingest endpoint (expected PUB)");
  if (frames.size() != 4)
    return nack(wire::Code::kBadFrames, "PUB takes 4 frames [ECK1, PUB, topic, envelope], got " +
                                            std::to_string(frames.size()));
  const std::string_view topic = frames[2];
  const std::string_view body = frames[3];
  // Decoded before the size check: a NACK echoes the id as sent, so the
  // publisher can match it even when the id or the size is what is wrong.
  // (ZMQ_MAXMSGSIZE bounds what can arrive here.)
  v1::Envelope env;
  if (body.empty() || !env.ParseFromArray(body.data(), static_cast<int>(body.size())))
    return nack(wire::Code::kBadEnvelope, "envelope does not decode as eck.v1.Envelope");
  std::string id = is_uuid(env.event_id()) ? normalize_uuid(env.event_id()) : env.event_id();
  if (body.size() > max_event_bytes)
    return nack(wire::Code::kTooLarge,
                "envelope is " + std::to_string(body.size()) + " bytes; the limit is " +
                    std::to_string(max_event_bytes),
                id);
  if (topic.empty() || topic[0] == '_')
    return nack(wire::Code::kBadTopic, "topic is empty or reserved (starts with '_')", id);
  if (auto r = validate_event(topic, env)) return nack(r->code, std::move(r->reason), id);
  return Publish{std::move(peer), std::move(id), std::string(topic), std::string(body)};
}

std::vector<std::string> ack_frames(const std::string& peer, const std::string& event_id,
                                    std::uint64_t seq, bool duplicate) {
  return {peer, std::string(wire::kVersion), std::string(wire::kAck), event_id, wire::u64_frame(seq),
          std::string(1, duplicate ? '\1' : '\0')};
}

std::vector<std::string> nack_frames(const Nack& n) {
  return {n.peer, std::string(wire::kVersion), std::string(wire::kNack), n.event_id,
          std::string(wire::code_name(n.code)), n.reason};
}

}  // namespace eck::broker
