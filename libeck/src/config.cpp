// Strict YAML configuration on top of yaml-cpp 0.7.
//
// yaml-cpp keeps duplicate mapping keys (lookups silently return the first),
// so each Section indexes its mapping itself: that is where duplicates and
// non-string keys are caught, and where claims are tracked for finish().
// Sections are only built for mappings a daemon asks for, so a hostile file
// full of aliases is never walked beyond what the daemon reads.
#include "eck/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <utility>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace eck::config {

namespace {

// A configuration file is a few kilobytes; anything this big is a mistake
// (wrong path), and refusing it early keeps the parser's work bounded.
constexpr std::size_t kMaxFileBytes = 1 << 20;

// Printable, bounded rendering of a scalar for error messages.
std::string printable(std::string_view s) {
  constexpr std::size_t kMax = 60;
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  if (s.size() > kMax) out += "...";
  return out;
}

std::string describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Scalar: return "'" + printable(n.Scalar()) + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Null: return "an empty value";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

[[noreturn]] void fail(const std::string& file, const YAML::Mark& mark, const std::string& msg) {
  if (mark.is_null() || mark.line < 0) throw ConfigError(file + ": " + msg);
  throw ConfigError(file + ":" + std::to_string(mark.line + 1) + ": " + msg);
}

std::string key_in(const std::string& path, std::string_view key) {
  std::string s = "key '" + printable(key) + "'";
  if (path.empty()) return s + " at the top level";
  return s + " in section '" + path + "'";
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool parse_int(std::string_view s, std::int64_t& out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string int_expectation(std::int64_t min, std::int64_t max) {
  if (min == INT64_MIN && max == INT64_MAX) return "an integer";
  if (max == INT64_MAX) return "an integer of at least " + std::to_string(min);
  if (min == INT64_MIN) return "an integer of at most " + std::to_string(max);
  return "an integer between " + std::to_string(min) + " and " + std::to_string(max);
}

// Where each document of the stream starts, at most three of them: enough
// to tell one document from several, and to catch yaml-cpp 0.7 going round
// in circles. On some junk (a lone ",") its parser reports a null document
// without consuming anything, again and again, so YAML::LoadAll never returns
// (jbeder/yaml-cpp#1040, fixed upstream after 0.8). Two documents starting at
// the same place are that loop, not a second document.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

std::vector<YAML::Mark> document_starts(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts handler;
  while (handler.starts.size() < 3 && parser.HandleNextDocument(handler)) {
  }
  return handler.starts;
}

}  // namespace

struct Section::Impl {
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
    bool claimed = false;
    std::shared_ptr<Impl> child;  // set once section() was asked for this key
  };

  std::shared_ptr<const std::string> file;
  std::string path;
  YAML::Mark mark = YAML::Mark::null_mark();  // of the mapping; null when absent
  std::vector<Entry> entries;                 // file order
  std::map<std::string, std::size_t, std::less<>> index;

  // `node` is a mapping, or null/undefined for an absent or empty section.
  Impl(std::shared_ptr<const std::string> f, std::string p, const YAML::Node& node)
      : file(std::move(f)), path(std::move(p)) {
    if (!node.IsDefined() || node.IsNull()) return;
    mark = node.Mark();
    for (const auto& kv : node) {
      const YAML::Node k = kv.first;
      if (!k.IsScalar()) {
        fail(*file, k.Mark(), std::string("keys must be plain strings, got ") + describe(k) +
                                  (path.empty() ? " at the top level" : " in section '" + path + "'"));
      }
      const std::string& name = k.Scalar();
      if (auto found = index.find(name); found != index.end()) {
        const auto& first = entries[found->second];
        fail(*file, k.Mark(),
             "duplicate " + key_in(path, name) + " (first given on line " +
                 std::to_string(first.key_node.Mark().line + 1) + ")");
      }
      index.emplace(name, entries.size());
      entries.push_back(Entry{name, k, kv.second, false, nullptr});
    }
  }

  Entry* find(std::string_view key) {
    auto it = index.find(key);
    return it == index.end() ? nullptr : &entries[it->second];
  }

  // The value of a present key, claimed; nullptr when absent.
  Entry* claim(std::string_view key) {
    Entry* e = find(key);
    if (e) e->claimed = true;
    return e;
  }

  [[noreturn]] void fail_value(const Entry& e, const std::string& expected) const {
    // A key without a value ("max_batch:") has a null node whose mark is
    // where the next token starts: point at the key instead.
    const YAML::Mark m =
        e.value.Mark().is_null() || e.value.IsNull() ? e.key_node.Mark() : e.value.Mark();
    fail(*file, m, key_in(path, e.key) + ": expected " + expected + ", got " + describe(e.value));
  }

  void finish() const {
    for (const auto& e : entries) {
      if (!e.claimed) {
        fail(*file, e.key_node.Mark(),
             "unknown key '" + printable(e.key) + "'" +
                 (path.empty() ? std::string(" at the top level") : " in section '" + path + "'"));
      }
      if (e.child) e.child->finish();
    }
  }
};

Section::Section(std::shared_ptr<Impl> impl, std::string path)
    : impl_(std::move(impl)), path_(std::move(path)) {}

Section Section::section(std::string_view key) {
  Impl::Entry* e = impl_->claim(key);
  std::string child_path = join(path_, key);
  if (!e) {
    // Absent: an empty section of defaults. Not remembered, nothing to check.
    return Section(std::make_shared<Impl>(impl_->file, child_path, YAML::Node()), child_path);
  }
  if (!e->child) {
    if (!e->value.IsMap() && !e->value.IsNull()) impl_->fail_value(*e, "a mapping");
    e->child = std::make_shared<Impl>(impl_->file, child_path, e->value);
  }
  return Section(e->child, child_path);
}

std::string Section::get_string(std::string_view key, std::string_view def) {
  Impl::Entry* e = impl_->claim(key);
  if (!e) return std::string(def);
  if (!e->value.IsScalar()) impl_->fail_value(*e, "a string");
  return e->value.Scalar();
}

std::int64_t Section::get_int(std::string_view key, std::int64_t def, std::int64_t min,
                              std::int64_t max) {
  Impl::Entry* e = impl_->claim(key);
  if (!e) return def;
  std::int64_t v = 0;
  if (!e->value.IsScalar() || !parse_int(e->value.Scalar(), v) || v < min || v > max) {
    impl_->fail_value(*e, int_expectation(min, max));
  }
  return v;
}

std::string Section::get_choice(std::string_view key, std::string_view def,
                               const std::vector<std::string>& allowed) {
  Impl::Entry* e = impl_->claim(key);
  if (!e) return std::string(def);
  if (e->value.IsScalar())
    for (const auto& a : allowed)
      if (e->value.Scalar() == a) return a;
  std::string expected = "one of";
  for (std::size_t i = 0; i < allowed.size(); ++i) expected += (i ? ", " : " ") + allowed[i];
  impl_->fail_value(*e, expected);
}

bool Section::get_bool(std::string_view key, bool def) {
  Impl::Entry* e = impl_->claim(key);
  if (!e) return def;
  if (e->value.IsScalar()) {
    const std::string& s = e->value.Scalar();
    // YAML 1.2 core schema spellings only: "yes"/"on" are YAML 1.1 traps.
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  impl_->fail_value(*e, "true or false");
}

std::vector<std::string> Section::get_string_list(std::string_view key,
                                                  std::vector<std::string> def) {
  Impl::Entry* e = impl_->claim(key);
  if (!e) return def;
  if (!e->value.IsSequence()) impl_->fail_value(*e, "a list of strings");
  std::vector<std::string> out;
  std::size_t i = 0;
  for (const auto& item : e->value) {
    ++i;
    if (!item.IsScalar()) {
      fail(*impl_->file, item.Mark().is_null() ? e->value.Mark() : item.Mark(),
           "item " + std::to_string(i) + " of " + key_in(path_, key) +
               ": expected a string, got " + describe(item));
    }
    out.push_back(item.Scalar());
  }
  return out;
}

std::string Section::require_string(std::string_view key) {
  if (!impl_->find(key)) fail(*impl_->file, impl_->mark, "missing required " + key_in(path_, key));
  return get_string(key, "");
}

bool Section::has(std::string_view key) const { return impl_->find(key) != nullptr; }

void Section::finish() { impl_->finish(); }

// ---------------------------------------------------------------------------

struct Document::State {
  std::shared_ptr<const std::string> name;
  YAML::Node root_node;  // keeps the parsed tree alive for all sections
  std::shared_ptr<Section::Impl> root;
};

Document Document::load_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ConfigError(path + ": cannot open: " + std::strerror(errno));
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      throw ConfigError(path + ": cannot read: " + std::strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxFileBytes) {
      ::close(fd);
      throw ConfigError(path + ": larger than " + std::to_string(kMaxFileBytes) +
                        " bytes; not a configuration file");
    }
  }
  ::close(fd);
  return load_string(text, path);
}

Document Document::load_string(std::string_view yaml, std::string name) {
  Document doc;
  doc.state_ = std::make_shared<State>();
  auto file = std::make_shared<const std::string>(std::move(name));
  doc.state_->name = file;
  if (yaml.size() > kMaxFileBytes) {
    throw ConfigError(*file + ": larger than " + std::to_string(kMaxFileBytes) + " bytes");
  }
  const std::string text(yaml);
  YAML::Node top;  // undefined: empty file
  try {
    const std::vector<YAML::Mark> starts = document_starts(text);
    for (std::size_t i = 1; i < starts.size(); ++i) {
      if (starts[i].pos == starts[i - 1].pos) {
        const auto at = static_cast<std::size_t>(starts[i].pos);
        fail(*file, starts[i],
             "YAML syntax error: unexpected " +
                 (at < yaml.size() ? "'" + printable(yaml.substr(at, 1)) + "'"
                                   : std::string("end of file")));
      }
    }
    if (starts.size() > 1) fail(*file, starts[1], "more than one YAML document");
    if (!starts.empty()) top = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    // e.mark is where the parser gave up; e.msg is yaml-cpp's reason.
    fail(*file, e.mark, "YAML syntax error: " + e.msg);
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw ConfigError(*file + ": cannot parse: " + e.what());
  }
  if (top.IsDefined() && !top.IsNull() && !top.IsMap()) {
    fail(*file, top.Mark(), "the top level must be a mapping of keys, got " + describe(top));
  }
  doc.state_->root_node = top;
  doc.state_->root = std::make_shared<Section::Impl>(file, "", top);
  return doc;
}

Section Document::root() { return Section(state_->root, ""); }

const std::string& Document::name() const { return *state_->name; }

}  // namespace eck::config
