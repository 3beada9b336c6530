// The ops commands of eck-inventory (see reports.h). Each command parses all
// of its options before it touches the database, so a typo never costs a
// query, and reads in one read-only snapshot, so a report can neither change
// the ledger nor show it half-way through an event the daemon is applying.
#include "reports.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "eck/args.h"

namespace eck::inventory {

namespace {

// Repeatable read: the several statements of one report (and of `check`
// above all) see the same snapshot while the daemon commits beside them.
using Snapshot = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

// `check` prints this many problems of each kind, then only counts them: a
// badly broken ledger must not bury the summary under a million lines.
constexpr std::size_t kMaxProblemsShown = 50;

// --limit beyond this is a typo rather than a wish.
constexpr std::int64_t kMaxLimit = 1'000'000'000;

// How a product is named on screen, in SQL over `product p`: its sku; a
// product known only by barcodes (no sku yet) by the smallest of them, so the
// name is stable; failing both, its id. Byte order ("C") makes the choice and
// the sort independent of the database's locale.
constexpr const char* kProductLabel =
    "COALESCE(p.sku, 'barcode:' || (SELECT min(b.barcode COLLATE \"C\") FROM product_barcode b"
    " WHERE b.product_id = p.id), '#' || p.id)";

// ---------------------------------------------------------------------------
// Formatting

// A decimal integer of thousandths ("-250", as std::to_string or PostgreSQL
// print it) as units with three decimals ("-0.250"). Done on the digits so
// that no float ever rounds a quantity and sums beyond int64 (numeric in
// SQL) print as exactly as the rest. Anything that is not an integer is
// returned unchanged rather than mangled.
std::string milli_text(std::string_view integer) {
  bool negative = integer.starts_with('-');
  if (negative) integer.remove_prefix(1);
  if (integer.empty() || !std::all_of(integer.begin(), integer.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::string(negative ? "-" : "") + std::string(integer);
  std::string digits(integer);
  if (digits.size() < 4) digits.insert(0, 4 - digits.size(), '0');
  digits.insert(digits.size() - 3, 1, '.');
  return negative ? "-" + digits : digits;
}

std::string milli_text(std::int64_t milli) { return milli_text(std::to_string(milli)); }

std::string count_text(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

enum class Align { left, right };

// Aligned columns under a header line; numbers right-aligned so their
// decimal points line up. Two spaces between columns, no trailing blanks.
class Table {
 public:
  struct Column {
    std::string title;
    Align align = Align::left;
  };

  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  void print(std::ostream& out) const {
    std::vector<std::size_t> width(columns_.size());
    for (std::size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].title.size();
    for (const auto& row : rows_)
      for (std::size_t c = 0; c < columns_.size(); ++c) width[c] = std::max(width[c], row[c].size());
    std::vector<std::string> header;
    for (const auto& col : columns_) header.push_back(col.title);
    print_row(out, header, width);
    for (const auto& row : rows_) print_row(out, row, width);
  }

 private:
  void print_row(std::ostream& out, const std::vector<std::string>& row,
                 const std::vector<std::size_t>& width) const {
    std::string line;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      if (c > 0) line += "  ";
      std::string pad(width[c] - row[c].size(), ' ');
      line += columns_[c].align == Align::right ? pad + row[c] : row[c] + pad;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  }

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// ---------------------------------------------------------------------------
// Options

struct Command {
  const char* name;
  const char* synopsis;
};

constexpr Command kCommands[] = {
    {"levels", "levels [--sku S | --barcode B] [--location L] [--below]\n"
               "    stock per product and location; --below: only at or below the reorder point"},
    {"movements", "movements (--sku S | --barcode B) [--location L] [--limit N]\n"
                  "    the ledger of one product in order; --limit N: only the last N movements"},
    {"unknown", "unknown\n"
                "    products the catalog has not described yet, with their stock"},
    {"check", "check\n"
              "    verify that levels and level_after agree with the movements (exit 1 if not)"},
};

const Command* find_command(const std::string& name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

void print_usage(std::ostream& os, const Command* only) {
  os << "usage: eck-inventory [--config PATH] COMMAND [options]\n";
  for (const auto& c : kCommands)
    if (!only || only == &c) os << "  " << c.synopsis << '\n';
}

// Args takes whatever follows --sku as its value; an option there means the
// value was forgotten ("--sku --below"), not a sku named "--below".
std::optional<std::string> text_option(Args& args, const std::string& name) {
  auto v = args.value(name);
  if (v && (v->empty() || v->starts_with("--"))) throw UsageError(name + " needs a value");
  return v;
}

// Which product a command is about: by sku, or by one of its barcodes for a
// product the catalog has not given a sku (yet).
struct ProductRef {
  std::optional<std::string> sku;
  std::optional<std::string> barcode;

  bool given() const { return sku || barcode; }
  std::string describe() const { return sku ? "sku '" + *sku + "'" : "barcode '" + *barcode + "'"; }
};

ProductRef product_ref(Args& args) {
  ProductRef ref{text_option(args, "--sku"), text_option(args, "--barcode")};
  if (ref.sku && ref.barcode) throw UsageError("give --sku or --barcode, not both");
  return ref;
}

struct LevelsOptions {
  ProductRef product;
  std::optional<std::string> location;
  bool below = false;
};

struct MovementsOptions {
  ProductRef product;
  std::optional<std::string> location;
  std::int64_t limit = 0;  // 0: all
};

// Values before flags: a flag read first would be taken from behind a value
// option that forgot its value ("--sku --below") and hide the mistake.
LevelsOptions parse_levels(Args& args) {
  LevelsOptions o;
  o.product = product_ref(args);
  o.location = text_option(args, "--location");
  o.below = args.flag("--below");
  args.finish();
  return o;
}

MovementsOptions parse_movements(Args& args) {
  MovementsOptions o;
  o.product = product_ref(args);
  o.location = text_option(args, "--location");
  o.limit = args.integer("--limit", 1, kMaxLimit).value_or(0);
  args.finish();
  if (!o.product.given()) throw UsageError("--sku or --barcode is required");
  return o;
}

// ---------------------------------------------------------------------------
// Lookups. A filter that names nothing is reported as such (exit 1) instead
// of printing an empty table that looks like "no stock".

std::optional<std::int64_t> find_product(Snapshot& tx, const ProductRef& ref) {
  auto r = ref.sku ? tx.exec_params("SELECT id FROM product WHERE sku = $1", *ref.sku)
                   : tx.exec_params("SELECT product_id FROM product_barcode WHERE barcode = $1", *ref.barcode);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::int64_t>();
}

std::optional<std::int64_t> find_location(Snapshot& tx, const std::string& code) {
  auto r = tx.exec_params("SELECT id FROM location WHERE code = $1", code);
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::int64_t>();
}

// Resolves the optional product and location filters to ids (0: no filter).
// False, with the reason on err, when one names nothing.
bool resolve_filters(Snapshot& tx, const ProductRef& product, const std::optional<std::string>& location,
                     std::int64_t& product_id, std::int64_t& location_id, std::ostream& err) {
  product_id = location_id = 0;
  if (product.given()) {
    auto id = find_product(tx, product);
    if (!id) {
      err << "eck-inventory: no product with " << product.describe() << '\n';
      return false;
    }
    product_id = *id;
  }
  if (location) {
    auto id = find_location(tx, *location);
    if (!id) {
      err << "eck-inventory: no location '" << *location << "'\n";
      return false;
    }
    location_id = *id;
  }
  return true;
}

// ---------------------------------------------------------------------------
// levels

std::string level_note(bool below, bool unknown, bool merged) {
  std::string note;
  auto add = [&note](const char* word) { note += note.empty() ? word : std::string(" ") + word; };
  if (below) add("below");
  if (unknown) add("unknown");
  if (merged) add("merged");
  return note;
}

int report_levels(Database& db, const LevelsOptions& o, std::ostream& out, std::ostream& err) {
  Snapshot tx(db.connection());
  std::int64_t product_id = 0, location_id = 0;
  if (!resolve_filters(tx, o.product, o.location, product_id, location_id, err)) return 1;
  // Filters as parameters that 0 / false switch off, so there is one
  // statement to read rather than SQL glued together.
  auto rows = tx.exec_params(
      std::string("SELECT * FROM (SELECT ") + kProductLabel +
          " AS product, l.code AS location, s.level_milli, r.point_milli,"
          " p.catalog_seq IS NULL AND p.merged_into IS NULL AS unknown,"
          " p.merged_into IS NOT NULL AS merged"
          " FROM stock_level s"
          " JOIN product p ON p.id = s.product_id"
          " JOIN location l ON l.id = s.location_id"
          " LEFT JOIN reorder_point r ON r.product_id = s.product_id AND r.location_id = s.location_id"
          " WHERE ($1::bigint = 0 OR s.product_id = $1::bigint)"
          "   AND ($2::bigint = 0 OR s.location_id = $2::bigint)"
          "   AND (NOT $3::boolean OR s.level_milli <= r.point_milli)) x"
          " ORDER BY x.product COLLATE \"C\", x.location COLLATE \"C\"",
      product_id, location_id, o.below);
  Table table({{"SKU"}, {"LOCATION"}, {"LEVEL", Align::right}, {"REORDER", Align::right}, {"NOTE"}});
  for (const auto& r : rows) {
    auto level = r[2].as<std::int64_t>();
    bool has_point = !r[3].is_null();
    bool below = has_point && level <= r[3].as<std::int64_t>();
    table.add({r[0].as<std::string>(), r[1].as<std::string>(), milli_text(level),
               has_point ? milli_text(r[3].as<std::int64_t>()) : "-",
               level_note(below, r[4].as<bool>(), r[5].as<bool>())});
  }
  tx.commit();
  table.print(out);
  return 0;
}

// ---------------------------------------------------------------------------
// movements

int report_movements(Database& db, const MovementsOptions& o, std::ostream& out, std::ostream& err) {
  Snapshot tx(db.connection());
  std::int64_t product_id = 0, location_id = 0;
  if (!resolve_filters(tx, o.product, o.location, product_id, location_id, err)) return 1;
  // The last N in id order: take them newest first, then turn them round.
  auto rows = tx.exec_params(
      "SELECT * FROM ("
      " SELECT m.id, m.seq,"
      "  to_char(m.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS at,"
      "  l.code, m.quantity_milli, m.reason, m.reference, m.line_no, m.level_after"
      " FROM movement m JOIN location l ON l.id = m.location_id"
      " WHERE m.product_id = $1::bigint AND ($2::bigint = 0 OR m.location_id = $2::bigint)"
      " ORDER BY m.id DESC LIMIT $3::bigint) x"
      " ORDER BY x.id",
      product_id, location_id, o.limit > 0 ? o.limit : std::numeric_limits<std::int64_t>::max());
  Table table({{"ID", Align::right},
               {"SEQ", Align::right},
               {"TIME"},
               {"LOCATION"},
               {"QUANTITY", Align::right},
               {"REASON"},
               {"REFERENCE"},
               {"LINE", Align::right},
               {"LEVEL_AFTER", Align::right}});
  for (const auto& r : rows) {
    auto line_no = r[7].as<std::int64_t>();
    table.add({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
               milli_text(r[4].as<std::int64_t>()), r[5].as<std::string>(), r[6].as<std::string>(),
               line_no == 0 ? "-" : std::to_string(line_no), milli_text(r[8].as<std::int64_t>())});
  }
  tx.commit();
  table.print(out);
  return 0;
}

// ---------------------------------------------------------------------------
// unknown

// "code=level" per location of each product, in location order.
std::map<std::int64_t, std::string> unknown_stock(Snapshot& tx) {
  std::map<std::int64_t, std::string> stock;
  for (const auto& r : tx.exec(
           "SELECT s.product_id, l.code, s.level_milli"
           " FROM stock_level s JOIN product p ON p.id = s.product_id JOIN location l ON l.id = s.location_id"
           " WHERE p.catalog_seq IS NULL AND p.merged_into IS NULL"
           " ORDER BY s.product_id, l.code COLLATE \"C\"")) {
    std::string& text = stock[r[0].as<std::int64_t>()];
    if (!text.empty()) text += ' ';
    text += r[1].as<std::string>() + "=" + milli_text(r[2].as<std::int64_t>());
  }
  return stock;
}

int report_unknown(Database& db, std::ostream& out) {
  Snapshot tx(db.connection());
  // The total is summed by PostgreSQL as numeric: no int64 overflow, and
  // milli_text prints it exactly.
  auto rows = tx.exec(
      "SELECT p.id, COALESCE(p.sku, '-'),"
      " COALESCE((SELECT string_agg(b.barcode, ',' ORDER BY b.barcode COLLATE \"C\")"
      "           FROM product_barcode b WHERE b.product_id = p.id), '-'),"
      " COALESCE(p.unknown_origin, '-'), COALESCE(p.unknown_since_seq, p.created_seq),"
      " (SELECT sum(s.level_milli) FROM stock_level s WHERE s.product_id = p.id)"
      " FROM product p WHERE p.catalog_seq IS NULL AND p.merged_into IS NULL"
      " ORDER BY p.id");
  auto stock = unknown_stock(tx);
  tx.commit();
  Table table({{"ID", Align::right},
               {"SKU"},
               {"BARCODES"},
               {"ORIGIN"},
               {"SINCE_SEQ", Align::right},
               {"TOTAL", Align::right},
               {"STOCK"}});
  for (const auto& r : rows) {
    auto id = r[0].as<std::int64_t>();
    auto it = stock.find(id);
    table.add({std::to_string(id), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
               r[4].as<std::string>(), r[5].is_null() ? "-" : milli_text(r[5].as<std::string>()),
               it == stock.end() ? "-" : it->second});
  }
  table.print(out);
  out << count_text(static_cast<std::int64_t>(rows.size()), "unknown product", "unknown products") << '\n';
  return 0;
}

// ---------------------------------------------------------------------------
// check

// Runs one check query whose rows are (..., total count) in problem order,
// limited to kMaxProblemsShown; prints each row with `describe` and a
// "... and N more" line. Returns the total count of problems of that kind.
template <typename Describe>
std::int64_t report_problems(Snapshot& tx, const std::string& sql, const char* kind, Describe describe,
                             std::ostream& out) {
  auto rows = tx.exec_params(sql, static_cast<std::int64_t>(kMaxProblemsShown));
  if (rows.empty()) return 0;
  auto total = rows[0][rows.columns() - 1].as<std::int64_t>();
  for (const auto& r : rows) out << kind << ": " << describe(r) << '\n';
  if (total > static_cast<std::int64_t>(rows.size()))
    out << kind << ": ... and " << total - static_cast<std::int64_t>(rows.size()) << " more\n";
  return total;
}

// (a) stock_level rows that differ from the sum of their movements (a level
// without movements must be 0).
std::int64_t check_level_sums(Snapshot& tx, std::ostream& out) {
  return report_problems(
      tx,
      std::string("SELECT ") + kProductLabel +
          ", l.code, s.level_milli, COALESCE(t.total, 0), COALESCE(t.n, 0), count(*) OVER ()"
          " FROM stock_level s"
          " LEFT JOIN (SELECT product_id, location_id, sum(quantity_milli) AS total, count(*) AS n"
          "            FROM movement GROUP BY product_id, location_id) t"
          "   ON t.product_id = s.product_id AND t.location_id = s.location_id"
          " JOIN product p ON p.id = s.product_id JOIN location l ON l.id = s.location_id"
          " WHERE s.level_milli <> COALESCE(t.total, 0)"
          " ORDER BY s.product_id, s.location_id LIMIT $1",
      "level differs from movements",
      [](const pqxx::row& r) {
        auto n = r[4].as<std::int64_t>();
        return r[0].as<std::string>() + " at " + r[1].as<std::string>() + ": stock_level " +
               milli_text(r[2].as<std::int64_t>()) +
               (n == 0 ? std::string(" but no movements")
                       : " but its " + count_text(n, "movement", "movements") + " sum to " +
                             milli_text(r[3].as<std::string>()));
      },
      out);
}

// (b) (product, location) pairs with movements but no stock_level row.
std::int64_t check_missing_levels(Snapshot& tx, std::ostream& out) {
  return report_problems(
      tx,
      std::string("SELECT ") + kProductLabel +
          ", l.code, t.total, t.n, count(*) OVER ()"
          " FROM (SELECT product_id, location_id, sum(quantity_milli) AS total, count(*) AS n"
          "       FROM movement GROUP BY product_id, location_id) t"
          " JOIN product p ON p.id = t.product_id JOIN location l ON l.id = t.location_id"
          " WHERE NOT EXISTS (SELECT 1 FROM stock_level s"
          "                   WHERE s.product_id = t.product_id AND s.location_id = t.location_id)"
          " ORDER BY t.product_id, t.location_id LIMIT $1",
      "missing stock_level",
      [](const pqxx::row& r) {
        return r[0].as<std::string>() + " at " + r[1].as<std::string>() + ": " +
               count_text(r[3].as<std::int64_t>(), "movement", "movements") + " summing to " +
               milli_text(r[2].as<std::string>()) + ", no stock_level row";
      },
      out);
}

// (c) movements whose level_after is not the running sum of their
// (product, location) in id order: the first wrong one shows where the
// chain broke.
std::int64_t check_level_after(Snapshot& tx, std::ostream& out) {
  return report_problems(
      tx,
      std::string("SELECT x.id, ") + kProductLabel +
          ", l.code, x.level_after, x.running, count(*) OVER ()"
          " FROM (SELECT id, product_id, location_id, level_after,"
          "              sum(quantity_milli) OVER (PARTITION BY product_id, location_id ORDER BY id) AS running"
          "       FROM movement) x"
          " JOIN product p ON p.id = x.product_id JOIN location l ON l.id = x.location_id"
          " WHERE x.level_after <> x.running"
          " ORDER BY x.id LIMIT $1",
      "level_after broken",
      [](const pqxx::row& r) {
        return "movement " + r[0].as<std::string>() + " (" + r[1].as<std::string>() + " at " +
               r[2].as<std::string>() + "): level_after " + milli_text(r[3].as<std::int64_t>()) +
               ", running sum " + milli_text(r[4].as<std::string>());
      },
      out);
}

int report_check(Database& db, std::ostream& out) {
  Snapshot tx(db.connection());
  auto sizes = tx.exec("SELECT (SELECT count(*) FROM stock_level), (SELECT count(*) FROM movement)");
  auto levels = sizes[0][0].as<std::int64_t>();
  auto movements = sizes[0][1].as<std::int64_t>();
  auto sums = check_level_sums(tx, out);
  auto missing = check_missing_levels(tx, out);
  auto chain = check_level_after(tx, out);
  tx.commit();
  std::string size = count_text(levels, "level", "levels") + ", " + count_text(movements, "movement", "movements");
  if (sums + missing + chain == 0) {
    out << "check: OK, " << size << '\n';
    return 0;
  }
  out << "check: FAILED, " << count_text(sums + missing + chain, "problem", "problems") << " ("
      << count_text(sums, "level differing from movements", "levels differing from movements") << ", "
      << count_text(missing, "missing stock_level", "missing stock_levels") << ", "
      << count_text(chain, "broken level_after", "broken level_after") << "), " << size << '\n';
  return 1;
}

}  // namespace

bool is_report_command(const std::string& name) { return find_command(name) != nullptr; }

int run_report(Database& db, const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const Command* command = args.empty() ? nullptr : find_command(args[0]);
  if (!command) {
    err << "eck-inventory: " << (args.empty() ? "no command given" : "unknown command '" + args[0] + "'") << '\n';
    print_usage(err, nullptr);
    return 2;
  }
  const std::string name = command->name;
  Args options(std::vector<std::string>(args.begin() + 1, args.end()));
  try {
    if (options.flag("--help")) {
      options.finish();
      print_usage(out, command);
      return 0;
    }
    // Parse everything first: a usage error must not have touched the
    // database.
    if (name == "levels") {
      auto o = parse_levels(options);
      return report_levels(db, o, out, err);
    }
    if (name == "movements") {
      auto o = parse_movements(options);
      return report_movements(db, o, out, err);
    }
    options.finish();
    return name == "unknown" ? report_unknown(db, out) : report_check(db, out);
  } catch (const UsageError& e) {
    err << "eck-inventory " << name << ": " << e.what() << '\n';
    print_usage(err, command);
    return 2;
  }
}

}  // namespace eck::inventory
