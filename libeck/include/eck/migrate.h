// Schema migrations. Each daemon owns one schema; its migrations are the files
// schema/<schema>/NNNN_name.sql, compiled into the binary (eck_embed_migrations
// in CMake) so an installed daemon needs no SQL files beside it.
//
// Contract of migrate():
// - runs under pg_advisory_lock keyed by the schema name, so two instances
//   starting together apply each file once;
// - creates the schema if missing, and <schema>.schema_migrations
//   (component, version, name, checksum sha256 hex, applied_at);
// - applies each pending file in its own transaction with search_path set to
//   the schema (PostgreSQL DDL is transactional: a failing file leaves no
//   trace and the error names it);
// - refuses to go on (MigrationError naming the file) when an applied file's
//   checksum differs from the one recorded, when the database has a
//   version this binary does not know (a newer binary ran before), or when a
//   file numbered below an applied one was never applied. These checks run
//   before anything is applied.
//
// The schema is created only when it does not exist: in production ops
// provision it, owned by the daemon's role, and that role has no CREATE on
// the database. The advisory lock key is the first 8 bytes of
// sha256("eck.migrate." + schema).
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace eck {

struct Migration {
  int version = 0;     // NNNN
  std::string name;    // file name, e.g. "0001_journal.sql"
  std::string sql;
};

struct MigrationSet {
  // Key of these files in schema_migrations: the directory under schema/
  // ("common" for the library's tables, else the daemon's schema name).
  std::string component;
  std::vector<Migration> migrations;  // ascending versions
};

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads NNNN_name.sql files from a directory (tests and tools). Throws
// MigrationError on a malformed name or duplicate version.
std::vector<Migration> load_migrations(const std::filesystem::path& dir);

// Applies sets in order on `conn` (no transaction may be open on it).
// Returns how many files were applied now. Throws MigrationError for the
// refusals above and for a failing file (named in the message);
// pqxx::broken_connection when the connection breaks.
int migrate(pqxx::connection& conn, const std::string& schema,
            const std::vector<MigrationSet>& sets);

// The tables the client library needs in every consuming or producing
// schema: consumer_position, dead_letter, outbox (schema/common/).
MigrationSet runtime_migrations();

std::string sha256_hex(const std::string& data);

}  // namespace eck
