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
//   checksum differs from the one recorded, or when the database has a
//   version this binary does not know (a newer binary ran before).
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
  std::string component;            // "eck" for the library's tables, else the schema
  std::vector<Migration> migrations;  // ascending versions
};

class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads NNNN_name.sql files from a directory (tests and tools). Throws
// MigrationError on a malformed name or duplicate version.
std::vector<Migration> load_migrations(const std::filesystem::path& dir);

// Applies sets in order. Returns how many files were applied now.
int migrate(pqxx::connection& conn, const std::string& schema,
            const std::vector<MigrationSet>& sets);

// The tables the client library needs in every consuming or producing
// schema: consumer_position, dead_letter, outbox (schema/common/).
MigrationSet runtime_migrations();

std::string sha256_hex(const std::string& data);

}  // namespace eck
