// Logging for daemons and tools: spdlog with journald-friendly output.
// When stderr is the journal (JOURNAL_STREAM set) lines carry sd-daemon level
// prefixes ("<6>message") and no timestamp, so journalctl shows real
// priorities; otherwise lines carry a timestamp and level name.
#pragma once

#include <string_view>

#include <spdlog/spdlog.h>

namespace eck::log {

// Sets up the default logger for process `name`. level: trace, debug, info,
// warn, error, critical, off. Throws std::invalid_argument on a bad level.
void init(std::string_view name, std::string_view level = "info");

// Changes the level at run time (SIGHUP reload). Same levels as init().
void set_level(std::string_view level);

bool valid_level(std::string_view level);

}  // namespace eck::log
