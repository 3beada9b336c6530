// CopyBuffer: rows for one table, written with a single COPY.
//
// How a consumer that buffers its effects (eck::TransactionHooks) writes a
// whole batch with one round trip per table instead of one per row:
//
//   CopyBuffer<3> lines("sale_line", {"sale_id", "line_no", "quantity_milli"});
//   lines.add(sale_id, 1, std::int64_t{2000});   // per event
//   lines.flush(tx);                              // before_commit
//
// Fields are given in column order: integers, bool, strings, or
// std::optional of those (an empty one is NULL). A duplicate key surfaces
// from flush() as a pqxx::sql_error with sqlstate() "23505", like any other
// error of the statement: the transaction is then lost (eck/duplicate_guard.h
// names the duplicate).
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

namespace eck {

// One field of a COPY row: its text, or NULL.
struct CopyField {
  std::optional<std::string> text;
};

}  // namespace eck

namespace pqxx {
// Lets pqxx::stream_to write CopyFields (NULL as \N, text escaped).
template <>
struct string_traits<eck::CopyField> {
  static constexpr const char* name() noexcept { return "eck::CopyField"; }
  static constexpr bool has_null() noexcept { return true; }
  static bool is_null(const eck::CopyField& f) { return !f.text; }
  static eck::CopyField null() { return {}; }
  static void from_string(const char s[], eck::CopyField& f) { f.text = s; }
  static std::string to_string(const eck::CopyField& f) { return f.text.value_or(""); }
};
}  // namespace pqxx

namespace eck {

namespace detail {
inline CopyField copy_field(const std::string& s) { return {s}; }
inline CopyField copy_field(std::string_view s) { return {std::string(s)}; }
inline CopyField copy_field(const char* s) { return {std::string(s)}; }
inline CopyField copy_field(bool b) { return {std::string(b ? "t" : "f")}; }
template <typename T, typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>>
CopyField copy_field(T v) {
  return {std::to_string(v)};
}
template <typename T>
CopyField copy_field(const std::optional<T>& v) {
  return v ? copy_field(*v) : CopyField{};
}
}  // namespace detail

template <std::size_t N>
class CopyBuffer {
 public:
  CopyBuffer(std::string table, std::array<std::string, N> columns)
      : table_(std::move(table)), columns_(std::move(columns)) {}

  template <typename... Fields>
  void add(const Fields&... fields) {
    static_assert(sizeof...(Fields) == N, "one field per column");
    rows_.push_back(Row{detail::copy_field(fields)...});
  }

  bool empty() const { return rows_.empty(); }
  std::size_t size() const { return rows_.size(); }

  // COPYs every row into tx, then clears. Throws what libpqxx throws.
  void flush(pqxx::work& tx) {
    if (rows_.empty()) return;
    pqxx::stream_to copy(tx, table_, columns_);
    for (const auto& row : rows_) copy << row;
    copy.complete();
    rows_.clear();
  }
  void clear() { rows_.clear(); }

 private:
  using Row = std::array<CopyField, N>;
  std::string table_;
  std::array<std::string, N> columns_;
  std::vector<Row> rows_;
};

}  // namespace eck
