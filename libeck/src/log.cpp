// Default logger setup. Under systemd, stderr goes to the journal; a line that
// starts with "<N>" (sd-daemon(3)) is stored with priority N, so `journalctl
// -p warning` works without linking the journal API into the write path.
#include "eck/log.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace eck::log {

namespace {

bool parse_level(std::string_view s, spdlog::level::level_enum& out) {
  using L = spdlog::level::level_enum;
  static constexpr std::pair<std::string_view, L> kLevels[] = {
      {"trace", L::trace}, {"debug", L::debug}, {"info", L::info},        {"warn", L::warn},
      {"error", L::err},   {"critical", L::critical}, {"off", L::off},
  };
  for (const auto& [name, level] : kLevels) {
    if (s == name) {
      out = level;
      return true;
    }
  }
  return false;
}

spdlog::level::level_enum level_or_throw(std::string_view s) {
  spdlog::level::level_enum l{};
  if (!parse_level(s, l)) {
    throw std::invalid_argument("unknown log level '" + std::string(s) +
                                "' (expected trace, debug, info, warn, error, critical or off)");
  }
  return l;
}

// True when stderr is the journal stream systemd set up for us, not merely
// inherited the variable (systemd.exec(5): compare device and inode).
bool stderr_is_journal() {
  const char* js = std::getenv("JOURNAL_STREAM");
  if (!js || !*js) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

// "<N>message" per line: journald splits stderr at newlines, so every line of
// a multi-line message carries its priority. No timestamp: journald has one.
class JournalFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const char prefix[] = {'<', syslog_digit(msg.level), '>'};
    const char* p = msg.payload.data();
    const char* end = p + msg.payload.size();
    do {
      const char* nl = std::find(p, end, '\n');
      dest.append(prefix, prefix + sizeof prefix);
      dest.append(p, nl);
      dest.push_back('\n');
      p = nl == end ? end : nl + 1;
    } while (p < end);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JournalFormatter>();
  }

 private:
  static char syslog_digit(spdlog::level::level_enum l) {
    switch (l) {
      case spdlog::level::trace:
      case spdlog::level::debug: return '7';     // LOG_DEBUG
      case spdlog::level::info: return '6';      // LOG_INFO
      case spdlog::level::warn: return '4';      // LOG_WARNING
      case spdlog::level::err: return '3';       // LOG_ERR
      case spdlog::level::critical: return '2';  // LOG_CRIT
      default: return '6';
    }
  }
};

}  // namespace

bool valid_level(std::string_view level) {
  spdlog::level::level_enum l{};
  return parse_level(level, l);
}

void init(std::string_view name, std::string_view level) {
  const auto l = level_or_throw(level);
  std::shared_ptr<spdlog::logger> logger;
  if (stderr_is_journal()) {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<JournalFormatter>());
    logger = std::make_shared<spdlog::logger>(std::string(name), std::move(sink));
  } else {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v"));
    logger = std::make_shared<spdlog::logger>(std::string(name), std::move(sink));
  }
  logger->set_level(l);
  spdlog::set_default_logger(std::move(logger));
  spdlog::set_level(l);
}

void set_level(std::string_view level) { spdlog::set_level(level_or_throw(level)); }

}  // namespace eck::log
