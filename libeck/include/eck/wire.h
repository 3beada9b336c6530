// eck wire protocol: frame layouts and codes shared by the broker and every
// client. docs/PROTOCOL.md is the normative description; this header is its
// C++ mirror. All integers on the wire are unsigned big-endian.
//
// Ingest (client DEALER -> broker ROUTER):
//   request  ["ECK1", "PUB", topic, envelope]
//   reply    ["ECK1", "ACK",  event_id, seq:u64, duplicate:u8]
//            ["ECK1", "NACK", event_id, code, reason]
// Fan-out (broker XPUB -> client SUB), three frames, prefix-filterable on the
// topic:
//   [topic, meta:16 = seq:u64 ++ prev_topic_seq:u64, envelope]
//   heartbeat: ["_eck.heartbeat", meta(head_seq, 0), eck.v1.Heartbeat]
// Replay (client DEALER -> broker ROUTER):
//   request  ["ECK1", "REPLAY", request_id, from_seq:u64, max_events:u32, prefix...]
//   stream   ["ECK1", "EVENT", request_id, topic, meta:16, envelope] ...
//   end      ["ECK1", "END", request_id, scanned_to:u64, head_seq:u64]
//   error    ["ECK1", "ERROR", request_id, code, reason]
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eck::wire {

inline constexpr std::string_view kVersion = "ECK1";

inline constexpr std::string_view kPub = "PUB";
inline constexpr std::string_view kAck = "ACK";
inline constexpr std::string_view kNack = "NACK";
inline constexpr std::string_view kReplay = "REPLAY";
inline constexpr std::string_view kEvent = "EVENT";
inline constexpr std::string_view kEnd = "END";
inline constexpr std::string_view kError = "ERROR";

// Topics beginning with '_' are the broker's own; publishers may not use them.
inline constexpr std::string_view kHeartbeatTopic = "_eck.heartbeat";

inline constexpr std::size_t kMetaSize = 16;

// Upper bound on events per REPLAY answer; larger requests are clamped.
inline constexpr std::uint32_t kMaxReplayBatch = 10000;

// NACK / ERROR codes. Only UNAVAILABLE is retryable: the same bytes may be
// sent again later. Every other code means the event will never be accepted.
enum class Code {
  kBadFrames,      // wrong frame count or empty mandatory frame
  kBadVersion,     // first frame is not "ECK1"
  kBadCommand,     // unknown command frame
  kBadEnvelope,    // envelope bytes do not decode as eck.v1.Envelope
  kBadEventId,     // event_id is not a UUID
  kBadTopic,       // topic does not match payload, no payload, reserved topic, or type mismatch
  kTooLarge,       // envelope larger than the broker's max_event_bytes
  kUnavailable,    // journal database unreachable or broker stopping: retry
};

std::string_view code_name(Code c);
std::optional<Code> parse_code(std::string_view name);
inline bool retryable(Code c) { return c == Code::kUnavailable; }

void put_u64(std::string& out, std::uint64_t v);
void put_u32(std::string& out, std::uint32_t v);
std::string u64_frame(std::uint64_t v);
std::string u32_frame(std::uint32_t v);
// Return nullopt unless the frame is exactly 8 (4) bytes.
std::optional<std::uint64_t> get_u64(std::string_view frame);
std::optional<std::uint32_t> get_u32(std::string_view frame);

struct Meta {
  std::uint64_t seq = 0;
  std::uint64_t prev_topic_seq = 0;  // 0: first event of its topic
};
std::string encode_meta(const Meta& m);
std::optional<Meta> decode_meta(std::string_view frame);  // nullopt unless 16 bytes

// True when topic starts with any prefix (an empty list or "" matches all).
template <typename Range>
bool matches_any(std::string_view topic, const Range& prefixes) {
  bool any = false;
  for (const auto& p : prefixes) {
    any = true;
    if (topic.substr(0, std::string_view(p).size()) == std::string_view(p)) return true;
  }
  return !any;
}

}  // namespace eck::wire
