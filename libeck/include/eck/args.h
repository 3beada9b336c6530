// Command-line options for tools and daemon subcommands, strict like the
// config: an option nobody asked for is an error, not silently ignored.
//
//   eck::Args args(argc, argv, 1);               // skip argv[0]
//   auto endpoint = args.value("--endpoint").value_or("tcp://127.0.0.1:5570");
//   auto topics = args.values("--topic");         // repeatable
//   bool stats = args.flag("--stats");
//   args.finish();                                // throws UsageError on leftovers
//
// Accepts "--name value" and "--name=value". Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace eck {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Args {
 public:
  Args(int argc, char** argv, int first = 1);
  explicit Args(std::vector<std::string> args);

  // Last occurrence of --name; throws UsageError when it has no value.
  std::optional<std::string> value(const std::string& name);
  std::vector<std::string> values(const std::string& name);
  // Integer value within [min, max]; throws UsageError naming the option.
  std::optional<std::int64_t> integer(const std::string& name, std::int64_t min, std::int64_t max);
  bool flag(const std::string& name);
  // Arguments that do not start with "--", in order (claimed by this call).
  // Call it after every value(): until then an option's value looks positional.
  std::vector<std::string> positionals();
  // Throws UsageError for the first argument nothing claimed.
  void finish();

 private:
  std::vector<std::string> args_;
  std::vector<bool> used_;
};

// Parses a decimal integer within [min, max]; nullopt for anything else.
std::optional<std::int64_t> parse_int(const std::string& s, std::int64_t min, std::int64_t max);

}  // namespace eck
