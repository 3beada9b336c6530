// Migrations: see the contract in eck/migrate.h.
//
// Everything runs on the caller's connection. The session-level advisory
// lock serialises migrators of one schema across processes; each file then
// runs in its own transaction together with the row that records it, so a
// file is either applied and recorded or neither (no "dirty" state to repair
// by hand, unlike tools that record before applying).
#include "eck/migrate.h"

#include <openssl/evp.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "eck/db.h"

namespace eck {

namespace {

// libpq messages end in a newline; ours go on one line.
std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

struct Recorded {
  std::string name;
  std::string checksum;
};

// component -> version -> what was recorded
using RecordedMap = std::map<std::string, std::map<int, Recorded>>;

// A stable key per schema: every build and every daemon must agree on it, so
// it is derived from the name (not from hashtext(), whose algorithm is
// PostgreSQL's business).
std::int64_t lock_key(const std::string& schema) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string text = "eck.migrate." + schema;
  if (EVP_Digest(text.data(), text.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw MigrationError("sha256 failed");
  }
  std::uint64_t k = 0;
  for (int i = 0; i < 8; ++i) k = (k << 8) | md[i];
  return static_cast<std::int64_t>(k);
}

void validate(const MigrationSet& set) {
  if (set.component.empty()) throw MigrationError("migration set without a component name");
  int last = 0;
  for (const auto& m : set.migrations) {
    if (m.version <= last) {
      throw MigrationError("component " + set.component + ": migration " + m.name +
                           " has version " + std::to_string(m.version) +
                           ", not above the previous " + std::to_string(last));
    }
    last = m.version;
  }
}

// Holds pg_advisory_lock(key) on the session from construction to
// destruction. If the connection breaks the lock ends with the session.
class AdvisoryLock {
 public:
  AdvisoryLock(pqxx::connection& conn, std::int64_t key, const std::string& schema)
      : conn_(conn), key_(key) {
    pqxx::nontransaction tx(conn_);
    if (!tx.exec1("SELECT pg_try_advisory_lock(" + std::to_string(key_) + ")")[0].as<bool>()) {
      spdlog::info("schema {}: waiting for another instance to finish migrating", schema);
      tx.exec("SELECT pg_advisory_lock(" + std::to_string(key_) + ")");
    }
  }
  ~AdvisoryLock() {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec("SELECT pg_advisory_unlock(" + std::to_string(key_) + ")");
    } catch (const std::exception& e) {
      // Broken connection: the server released the lock with the session.
      spdlog::debug("releasing migration lock: {}", e.what());
    }
  }
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& conn_;
  std::int64_t key_;
};

// In production the schema is provisioned by ops and owned by the daemon's
// role, which has no CREATE on the database: CREATE SCHEMA IF NOT EXISTS
// would still be refused there, so only create what is really missing.
void ensure_schema(pqxx::connection& conn, const std::string& schema) {
  const std::string table = quote_ident(schema) + ".schema_migrations";
  pqxx::work tx(conn, "eck-migrate-setup");
  if (tx.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema).empty()) {
    tx.exec("CREATE SCHEMA " + quote_ident(schema));
  }
  if (tx.exec_params1("SELECT to_regclass($1) IS NULL", table)[0].as<bool>()) {
    tx.exec("CREATE TABLE " + table +
            " (component text NOT NULL,"
            " version integer NOT NULL,"
            " name text NOT NULL,"
            " checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now(),"
            " PRIMARY KEY (component, version))");
  }
  tx.commit();
}

RecordedMap read_recorded(pqxx::connection& conn, const std::string& schema) {
  RecordedMap out;
  pqxx::read_transaction tx(conn);
  for (const auto& row : tx.exec("SELECT component, version, name, checksum FROM " +
                                 quote_ident(schema) + ".schema_migrations")) {
    out[row[0].as<std::string>()][row[1].as<int>()] =
        Recorded{row[2].as<std::string>(), row[3].as<std::string>()};
  }
  return out;
}

// Refuses before anything is applied, so a bad binary changes nothing.
void verify(const std::string& schema, const MigrationSet& set,
            const std::map<int, Recorded>& recorded) {
  std::map<int, const Migration*> known;
  for (const auto& m : set.migrations) known[m.version] = &m;
  const std::string where = "schema '" + schema + "', component '" + set.component + "'";

  for (const auto& [version, rec] : recorded) {
    auto it = known.find(version);
    if (it == known.end()) {
      throw MigrationError(where + ": the database has migration " + rec.name + " (version " +
                           std::to_string(version) +
                           ") applied, which this program does not know; a newer version "
                           "migrated this database, refusing to run against it");
    }
    const Migration& m = *it->second;
    const std::string sum = sha256_hex(m.sql);
    if (sum != rec.checksum) {
      throw MigrationError(where + ": migration " + m.name +
                           " was edited after it was applied (recorded checksum " + rec.checksum +
                           ", file " + sum + "); add a new migration instead of editing one");
    }
  }
  const int newest = recorded.empty() ? 0 : recorded.rbegin()->first;
  for (const auto& m : set.migrations) {
    if (m.version < newest && !recorded.count(m.version)) {
      throw MigrationError(where + ": migration " + m.name +
                           " is older than the applied version " + std::to_string(newest) +
                           " but was never applied; renumber it above " + std::to_string(newest));
    }
  }
}

void apply(pqxx::connection& conn, const std::string& schema, const std::string& component,
           const Migration& m) {
  spdlog::info("schema {}: applying migration {}/{}", schema, component, m.name);
  try {
    pqxx::work tx(conn, "eck-migrate");
    tx.exec("SET LOCAL search_path TO " + quote_ident(schema));
    tx.exec(m.sql);
    tx.exec_params("INSERT INTO " + quote_ident(schema) +
                       ".schema_migrations (component, version, name, checksum)"
                       " VALUES ($1, $2, $3, $4)",
                   component, m.version, m.name, sha256_hex(m.sql));
    tx.commit();
  } catch (const pqxx::sql_error& e) {
    throw MigrationError("schema '" + schema + "': migration " + component + "/" + m.name +
                         " failed and was rolled back: " + trimmed(e.what()));
  }
}

bool parse_name(const std::string& name, int& version) {
  // NNNN_name.sql with name in [a-z0-9_]+, as cmake/WriteMigrations.cmake.
  if (name.size() < 10 || name.compare(name.size() - 4, 4, ".sql") != 0 || name[4] != '_') {
    return false;
  }
  version = 0;
  for (int i = 0; i < 4; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    version = version * 10 + (name[i] - '0');
  }
  for (std::size_t i = 5; i < name.size() - 4; ++i) {
    const char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return version > 0;
}

}  // namespace

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw MigrationError("sha256 failed");
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 0xf];
  }
  return out;
}

std::vector<Migration> load_migrations(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) throw MigrationError(dir.string() + ": cannot read migrations: " + ec.message());
  std::map<int, Migration> by_version;
  for (const auto& entry : it) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;  // READMEs and the like
    int version = 0;
    if (!parse_name(name, version)) {
      throw MigrationError(entry.path().string() +
                           ": migration file names must look like 0001_name.sql "
                           "(four digits from 0001, lower case, digits and _)");
    }
    std::ifstream in(entry.path(), std::ios::binary);
    if (!in.is_open()) throw MigrationError(entry.path().string() + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) throw MigrationError(entry.path().string() + ": cannot read");
    if (auto dup = by_version.find(version); dup != by_version.end()) {
      throw MigrationError(entry.path().string() + ": version " + std::to_string(version) +
                           " is also used by " + dup->second.name);
    }
    by_version.emplace(version, Migration{version, name, text.str()});
  }
  std::vector<Migration> out;
  for (auto& [v, m] : by_version) out.push_back(std::move(m));
  return out;
}

int migrate(pqxx::connection& conn, const std::string& schema,
            const std::vector<MigrationSet>& sets) {
  if (schema.empty()) throw MigrationError("migrate: empty schema name");
  std::set<std::string> components;
  for (const auto& set : sets) {
    validate(set);
    if (!components.insert(set.component).second) {
      throw MigrationError("migrate: component " + set.component + " given twice");
    }
  }

  AdvisoryLock lock(conn, lock_key(schema), schema);
  try {
    ensure_schema(conn, schema);
  } catch (const pqxx::sql_error& e) {
    // Typically: the schema is missing and this role may not create it.
    throw MigrationError("schema '" + schema + "': cannot set up schema_migrations: " +
                         trimmed(e.what()));
  }
  const RecordedMap recorded = read_recorded(conn, schema);
  static const std::map<int, Recorded> none;
  auto recorded_of = [&](const std::string& c) -> const std::map<int, Recorded>& {
    auto it = recorded.find(c);
    return it == recorded.end() ? none : it->second;
  };
  for (const auto& set : sets) verify(schema, set, recorded_of(set.component));

  int applied = 0;
  for (const auto& set : sets) {
    const auto& done = recorded_of(set.component);
    for (const auto& m : set.migrations) {
      if (done.count(m.version)) continue;
      apply(conn, schema, set.component, m);
      ++applied;
    }
  }
  if (applied > 0) spdlog::info("schema {}: {} migration(s) applied", schema, applied);
  return applied;
}

}  // namespace eck
