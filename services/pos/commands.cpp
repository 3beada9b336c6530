#include "commands.h"

#include <fstream>

#include <fmt/format.h>

#include "eck/args.h"
#include "receipt_store.h"
#include "sales_export.h"
#include "zreport.h"

namespace eck::pos {

namespace {

bool is_date(const std::string& s) {
  // YYYY-MM-DD; PostgreSQL checks that the day exists.
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const int month = (s[5] - '0') * 10 + (s[6] - '0'), day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

int receipt(Database& db, const PosConfig& cfg, Args& args, std::ostream& out, std::ostream& err) {
  const auto format = args.value("--format").value_or("text");
  const auto width = static_cast<int>(args.integer("--width", 24, 80).value_or(42));
  auto pos = args.positionals();
  args.finish();
  if (pos.size() != 1) throw UsageError("receipt needs exactly one SALE_ID");
  if (format != "text" && format != "escpos") throw UsageError("--format is text or escpos");
  pqxx::read_transaction tx(db.connection());
  auto r = load_receipt(tx, pos[0], cfg.business);
  if (!r) {
    err << "eck-pos: no sale '" << pos[0] << "'\n";
    return 1;
  }
  out << (format == "text" ? render_text(*r, width) : render_escpos(*r));
  return 0;
}

int zreport(Database& db, const PosConfig& cfg, Args& args, std::ostream& out, std::ostream& err) {
  const auto reg = args.value("--register");
  const auto z = args.integer("--z", 1, INT64_MAX);
  args.finish();
  if (!reg || reg->empty()) throw UsageError("zreport needs --register R");
  pqxx::read_transaction tx(db.connection());
  auto report = load_z_report(tx, *reg, z);
  if (!report) {
    err << "eck-pos: no Z-report" << (z ? fmt::format(" {}", *z) : std::string()) << " for register '"
        << *reg << "'\n";
    return 1;
  }
  out << render_z_report(*report, cfg.business);
  return 0;
}

int export_sales(Database& db, Args& args, std::ostream& out, std::ostream& err) {
  const auto from = args.value("--from"), to = args.value("--to"), file = args.value("--out");
  args.finish();
  if (!from || !to) throw UsageError("export needs --from YYYY-MM-DD and --to YYYY-MM-DD");
  if (!is_date(*from) || !is_date(*to)) throw UsageError("dates are YYYY-MM-DD");
  try {  // a day that does not exist (2024-02-30): before any output
    pqxx::read_transaction check(db.connection());
    check.exec_params("SELECT $1::date, $2::date", *from, *to);
  } catch (const pqxx::data_exception&) {
    throw UsageError("no such date: " + *from + " or " + *to);
  }
  pqxx::read_transaction tx(db.connection());
  std::size_t rows = 0;
  if (file) {
    const std::string tmp = *file + ".tmp";
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) {
      err << "eck-pos: cannot write " << tmp << '\n';
      return 1;
    }
    rows = write_sales_csv(tx, *from, *to, f);
    f.close();
    if (!f || std::rename(tmp.c_str(), file->c_str()) != 0) {
      err << "eck-pos: cannot write " << *file << '\n';
      return 1;
    }
    err << rows << " rows written to " << *file << '\n';
  } else {
    rows = write_sales_csv(tx, *from, *to, out);
  }
  return 0;
}

int problems(Database& db, Args& args, std::ostream& out) {
  const auto limit = args.integer("--limit", 1, 1000000).value_or(100);
  args.finish();
  pqxx::read_transaction tx(db.connection());
  auto rows = tx.exec_params(
      "SELECT kind, id, seq, register_id, array_to_string(problems, '; ') FROM ("
      " SELECT 'sale' AS kind, sale_id AS id, seq, register_id, problems FROM sale WHERE problems <> '{}'"
      " UNION ALL SELECT 'void', void_id, seq, register_id, problems FROM sale_void WHERE problems <> '{}'"
      " UNION ALL SELECT 'cash', movement_id, seq, register_id, problems FROM cash_movement"
      "   WHERE problems <> '{}') p ORDER BY seq DESC LIMIT $1",
      limit);
  auto total = tx.exec1(
      "SELECT (SELECT count(*) FROM sale WHERE problems <> '{}') +"
      " (SELECT count(*) FROM sale_void WHERE problems <> '{}') +"
      " (SELECT count(*) FROM cash_movement WHERE problems <> '{}')")[0]
                   .as<std::int64_t>();
  for (const auto& r : rows) {
    out << fmt::format("{} {} seq={} register={}: {}\n", r[0].as<std::string>(), r[1].as<std::string>(),
                       r[2].as<std::int64_t>(), r[3].as<std::string>(), r[4].as<std::string>());
  }
  out << total << " flagged\n";
  return 0;
}

}  // namespace

bool is_command(const std::string& name) {
  return name == "receipt" || name == "zreport" || name == "export" || name == "problems";
}

int run_command(Database& db, const PosConfig& cfg, const std::vector<std::string>& argv,
                std::ostream& out, std::ostream& err) {
  try {
    Args args(std::vector<std::string>(argv.begin() + 1, argv.end()));
    const std::string& cmd = argv.at(0);
    if (cmd == "receipt") return receipt(db, cfg, args, out, err);
    if (cmd == "zreport") return zreport(db, cfg, args, out, err);
    if (cmd == "export") return export_sales(db, args, out, err);
    if (cmd == "problems") return problems(db, args, out);
    err << "eck-pos: unknown command '" << cmd << "'\n";
    return 2;
  } catch (const UsageError& e) {
    err << "eck-pos " << argv.at(0) << ": " << e.what() << '\n';
    return 2;
  }
}

}  // namespace eck::pos
