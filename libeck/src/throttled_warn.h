// A warning that repeats at most once per interval, with a count of what it
// held back: a confused or hostile peer must not flood the journal.
// Internal to libeck. Not thread-safe: one per owning thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <utility>

#include <spdlog/spdlog.h>

namespace eck::detail {

class ThrottledWarn {
 public:
  explicit ThrottledWarn(std::chrono::milliseconds every) : every_(every) {}

  template <typename... Args>
  void warn(spdlog::format_string_t<Args...> fmt, Args&&... args) {
    const auto now = std::chrono::steady_clock::now();
    ++suppressed_;
    if (now < next_) return;
    next_ = now + every_;
    if (suppressed_ > 1) spdlog::warn("({} similar warnings held back)", suppressed_ - 1);
    suppressed_ = 0;
    spdlog::warn(fmt, std::forward<Args>(args)...);
  }

 private:
  std::chrono::milliseconds every_;
  std::chrono::steady_clock::time_point next_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace eck::detail
