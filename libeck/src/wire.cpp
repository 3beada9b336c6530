#include "eck/wire.h"

#include <array>

namespace eck::wire {
namespace {

struct CodeName {
  Code code;
  std::string_view name;
};

constexpr std::array<CodeName, 8> kCodes{{
    {Code::kBadFrames, "BAD_FRAMES"},
    {Code::kBadVersion, "BAD_VERSION"},
    {Code::kBadCommand, "BAD_COMMAND"},
    {Code::kBadEnvelope, "BAD_ENVELOPE"},
    {Code::kBadEventId, "BAD_EVENT_ID"},
    {Code::kBadTopic, "BAD_TOPIC"},
    {Code::kTooLarge, "TOO_LARGE"},
    {Code::kUnavailable, "UNAVAILABLE"},
}};

}  // namespace

std::string_view code_name(Code c) {
  for (const auto& e : kCodes)
    if (e.code == c) return e.name;
  return "UNKNOWN";
}

std::optional<Code> parse_code(std::string_view name) {
  for (const auto& e : kCodes)
    if (e.name == name) return e.code;
  return std::nullopt;
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string u64_frame(std::uint64_t v) {
  std::string s;
  put_u64(s, v);
  return s;
}

std::string u32_frame(std::uint32_t v) {
  std::string s;
  put_u32(s, v);
  return s;
}

namespace {
std::uint64_t read_be(std::string_view b) {
  std::uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;
  return v;
}
}  // namespace

std::optional<std::uint64_t> get_u64(std::string_view frame) {
  if (frame.size() != 8) return std::nullopt;
  return read_be(frame);
}

std::optional<std::uint32_t> get_u32(std::string_view frame) {
  if (frame.size() != 4) return std::nullopt;
  return static_cast<std::uint32_t>(read_be(frame));
}

std::string encode_meta(const Meta& m) {
  std::string s;
  s.reserve(kMetaSize);
  put_u64(s, m.seq);
  put_u64(s, m.prev_topic_seq);
  return s;
}

std::optional<Meta> decode_meta(std::string_view frame) {
  if (frame.size() != kMetaSize) return std::nullopt;
  return Meta{read_be(frame.substr(0, 8)), read_be(frame.substr(8, 8))};
}

}  // namespace eck::wire
