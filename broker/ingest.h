// Ingest validation: turns one ROUTER message into a Publish or a Nack.
// Pure functions over frames, so the garbage tests can feed them anything.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "eck/wire.h"
#include "journal.h"

namespace eck::broker {

struct Nack {
  std::string peer;
  std::string event_id;  // empty when the envelope could not be read
  wire::Code code;
  std::string reason;
};

// `frames` excludes the ROUTER identity frame. Checks, in order: version
// frame, command, frame count, envelope decodes, size limit, reserved topic,
// then eck::validate_event (UUID, topic matches payload, type).
std::variant<Publish, Nack> parse_publish(std::string peer, const std::vector<std::string_view>& frames,
                                          std::size_t max_event_bytes);

// Reply frames, identity first, ready for a ROUTER socket.
std::vector<std::string> ack_frames(const std::string& peer, const std::string& event_id,
                                    std::uint64_t seq, bool duplicate);
std::vector<std::string> nack_frames(const Nack& n);

}  // namespace eck::broker
