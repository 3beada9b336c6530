// Strict YAML configuration. Every daemon reads one YAML file; every key it
// reads is claimed through a Section, and finish() rejects whatever was not
// claimed, naming the file, the line and the key. So a typo never silently
// falls back to a default.
//
//   auto doc = eck::config::Document::load_file("/etc/eck/broker.yaml");
//   auto root = doc.root();
//   auto db = root.section("database");          // absent section: all defaults
//   std::string url = db.get_string("url", "postgresql:///eck");
//   root.finish();                                // throws ConfigError on unknown keys
//
// Errors read "<file>:<line>: <what>", for example
//   broker.yaml:7: unknown key 'prot' in section 'database'
//   broker.yaml:3: key 'port' in section 'ingest': expected an integer between
//     1 and 65535, got 'abc'
// Values are strict: a key given with no value ("url:") is an error, not its
// default (leave the key out for that; an empty section is fine); booleans
// are true/false only (not yes/no/on/off); integers are plain decimal.
// Duplicate keys and non-string keys are errors; files over 1 MiB and
// multi-document streams are refused.
//
// Not thread-safe; configuration is read once, at start-up (and on SIGHUP).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace YAML { class Node; }

namespace eck::config {

// what() reads "<file>:<line>: <message>" (line omitted when unknown).
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Document;

class Section {
 public:
  // A nested mapping; an absent key yields an empty section whose getters
  // return their defaults. Throws when the key exists but is not a mapping,
  // or when the mapping repeats a key. Asking twice returns the same section.
  Section section(std::string_view key);

  std::string get_string(std::string_view key, std::string_view def);
  std::int64_t get_int(std::string_view key, std::int64_t def,
                       std::int64_t min = INT64_MIN, std::int64_t max = INT64_MAX);
  bool get_bool(std::string_view key, bool def);
  // A string that must be one of `allowed` (an enumeration, e.g. log levels).
  std::string get_choice(std::string_view key, std::string_view def,
                         const std::vector<std::string>& allowed);
  std::vector<std::string> get_string_list(std::string_view key, std::vector<std::string> def);
  // Throws ConfigError when the key is absent.
  std::string require_string(std::string_view key);
  // Whether the key is present; does not claim it.
  bool has(std::string_view key) const;

  // Throws ConfigError for the first key (depth first, in file order) that no
  // getter claimed in this section or any nested one.
  void finish();

  // Dotted path of this section ("" for the root), for messages.
  const std::string& path() const { return path_; }

 private:
  friend class Document;
  struct Impl;
  Section(std::shared_ptr<Impl> impl, std::string path);
  std::shared_ptr<Impl> impl_;
  std::string path_;
};

class Document {
 public:
  // Throws ConfigError for a missing/unreadable file, YAML syntax errors
  // (with line), or a top level that is not a mapping. An empty file is an
  // empty mapping (all defaults).
  static Document load_file(const std::string& path);
  static Document load_string(std::string_view yaml, std::string name = "<string>");
  Section root();
  const std::string& name() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace eck::config
