// PostgreSQL array literals ("{1,2,3}", {"a","b \"c\""}) for array
// parameters ($1::bigint[]): how one statement carries a whole batch
// (unnest), and how text[] columns are written by COPY.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

namespace eck {

template <typename T>
std::string sql_array(const std::vector<T>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    if constexpr (std::is_same_v<T, bool>) {
      out += items[i] ? "t" : "f";
    } else if constexpr (std::is_integral_v<T>) {
      out += std::to_string(items[i]);
    } else {
      // Quoted, so commas, braces, spaces and NULL-looking words stay text.
      out += '"';
      for (char c : items[i]) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += '"';
    }
  }
  out += '}';
  return out;
}

}  // namespace eck
