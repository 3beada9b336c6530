// Telling a database outage from an error the work itself caused. Internal to
// libeck: the Consumer retries a batch on the first kind and dead-letters an
// event on the second; the outbox relay reconnects on the first.
#pragma once

#include <exception>
#include <string>

#include <pqxx/pqxx>

namespace eck::detail {

// True for errors that say nothing about the event being applied: the
// connection is gone or the commit outcome is unknown, the server is shutting
// down or starting, the transaction lost a deadlock or serialization race
// (class 40), or the server ran out of resources (53) or hit a system error
// (58). Retrying the same work later is the right answer to all of them.
inline bool is_db_trouble(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) return true;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) return true;
  if (auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& s = sql->sqlstate();
    return s.starts_with("08") || s.starts_with("40") || s.starts_with("53") ||
           s.starts_with("58") || s == "57P01" || s == "57P02" || s == "57P03";
  }
  return false;
}

// PostgreSQL text must be valid UTF-8 without NUL; reasons come from
// arbitrary exceptions and topics from the wire. Invalid bytes become '?'.
inline std::string sanitize_text(const std::string& in, std::size_t max_bytes = 4000) {
  std::string out;
  out.reserve(std::min(in.size(), max_bytes));
  std::size_t i = 0;
  while (i < in.size() && out.size() < max_bytes) {
    const auto c = static_cast<unsigned char>(in[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= in.size() && c != 0;
    for (std::size_t k = 1; ok && k < len; ++k)
      ok = (static_cast<unsigned char>(in[i + k]) & 0xc0) == 0x80;
    if (ok && len > 1) {
      // Reject overlong forms and surrogates, which PostgreSQL refuses too.
      const auto c1 = static_cast<unsigned char>(in[i + 1]);
      if (len == 2 && c < 0xc2) ok = false;
      if (len == 3 && c == 0xe0 && c1 < 0xa0) ok = false;
      if (len == 3 && c == 0xed && c1 >= 0xa0) ok = false;
      if (len == 4 && (c > 0xf4 || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90))) ok = false;
    }
    if (ok) {
      out.append(in, i, len);
      i += len;
    } else {
      out.push_back('?');
      ++i;
    }
  }
  return out;
}

}  // namespace eck::detail
