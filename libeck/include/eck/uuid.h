// UUIDs as eck uses them: event ids travel as canonical text
// (8-4-4-4-12 hex). The client library mints time-ordered v7 ids so the
// broker's unique index grows at its right edge instead of at random.
#pragma once

#include <string>
#include <string_view>

namespace eck {

// Accepts canonical 36-character hex UUIDs in either case.
bool is_uuid(std::string_view s);

// Lower-case canonical form. REQUIRES: is_uuid(s).
std::string normalize_uuid(std::string_view s);

// RFC 9562 version 7: 48-bit unix milliseconds, then random bits.
// Thread-safe.
std::string new_uuid_v7();

}  // namespace eck
