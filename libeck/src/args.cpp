#include "eck/args.h"

#include <charconv>

namespace eck {

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) args_.emplace_back(argv[i]);
  used_.assign(args_.size(), false);
}

Args::Args(std::vector<std::string> args) : args_(std::move(args)), used_(args_.size(), false) {}

std::vector<std::string> Args::values(const std::string& name) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    const std::string& a = args_[i];
    if (a == name) {
      if (i + 1 >= args_.size()) throw UsageError(name + " needs a value");
      used_[i] = used_[i + 1] = true;
      out.push_back(args_[i + 1]);
      ++i;
    } else if (a.size() > name.size() && a.compare(0, name.size(), name) == 0 && a[name.size()] == '=') {
      used_[i] = true;
      out.push_back(a.substr(name.size() + 1));
    }
  }
  return out;
}

std::optional<std::string> Args::value(const std::string& name) {
  auto all = values(name);
  if (all.empty()) return std::nullopt;
  return all.back();
}

std::optional<std::int64_t> Args::integer(const std::string& name, std::int64_t min, std::int64_t max) {
  auto v = value(name);
  if (!v) return std::nullopt;
  auto n = parse_int(*v, min, max);
  if (!n)
    throw UsageError(name + ": expected an integer between " + std::to_string(min) + " and " +
                     std::to_string(max) + ", got '" + *v + "'");
  return n;
}

bool Args::flag(const std::string& name) {
  bool found = false;
  for (std::size_t i = 0; i < args_.size(); ++i)
    if (!used_[i] && args_[i] == name) used_[i] = found = true;
  return found;
}

std::vector<std::string> Args::positionals() {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < args_.size(); ++i)
    if (!used_[i] && args_[i].rfind("--", 0) != 0) {
      used_[i] = true;
      out.push_back(args_[i]);
    }
  return out;
}

void Args::finish() {
  for (std::size_t i = 0; i < args_.size(); ++i)
    if (!used_[i]) throw UsageError("unknown argument '" + args_[i] + "'");
}

std::optional<std::int64_t> parse_int(const std::string& s, std::int64_t min, std::int64_t max) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  if (v < min || v > max) return std::nullopt;
  return v;
}

}  // namespace eck
