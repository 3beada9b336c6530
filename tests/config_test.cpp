// eck::config: strict YAML. Every rejection must name the file, the line and
// the key; no input, however broken, may do anything but throw ConfigError.
#include "eck/config.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <string>

#include "support/child_process.h"

namespace {

using eck::config::ConfigError;
using eck::config::Document;

// Runs fn and returns the ConfigError message; fails the test when fn does
// not throw ConfigError.
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConfigError";
  return {};
}

// Writes `text` to dir/name and returns the path.
std::string write_file(const eck::test::TempDir& dir, const std::string& name,
                       const std::string& text) {
  const auto path = dir.file(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// --- reading values ---------------------------------------------------------

TEST(Config, ReadsValuesAndDefaults) {
  auto doc = Document::load_string(
      "listen: tcp://*:5570\n"
      "database:\n"
      "  url: postgresql:///eck\n"
      "  pool: 4\n"
      "  debug: true\n"
      "topics: [pos., catalog.]\n");
  auto root = doc.root();
  EXPECT_EQ(root.get_string("listen", "x"), "tcp://*:5570");
  auto db = root.section("database");
  EXPECT_EQ(db.path(), "database");
  EXPECT_EQ(db.require_string("url"), "postgresql:///eck");
  EXPECT_EQ(db.get_int("pool", 1, 1, 64), 4);
  EXPECT_TRUE(db.get_bool("debug", false));
  EXPECT_EQ(db.get_string("absent", "dflt"), "dflt");
  EXPECT_EQ(root.get_string_list("topics", {}), (std::vector<std::string>{"pos.", "catalog."}));
  auto missing = root.section("missing");
  EXPECT_EQ(missing.path(), "missing");
  EXPECT_EQ(missing.get_int("n", 7), 7);
  EXPECT_EQ(missing.section("deeper").get_bool("b", true), true);
  EXPECT_NO_THROW(root.finish());
}

TEST(Config, IntegersAcceptSignsAndRejectTheRest) {
  auto doc = Document::load_string("a: -5\nb: +7\nc: 9223372036854775807\n");
  auto root = doc.root();
  EXPECT_EQ(root.get_int("a", 0), -5);
  EXPECT_EQ(root.get_int("b", 0), 7);
  EXPECT_EQ(root.get_int("c", 0), INT64_MAX);
  for (const char* bad : {"1.5", "0x10", "1_000", "12abc", "\"\"", "9223372036854775808", "'- 1'",
                          "{a: 1}"}) {
    auto d = Document::load_string(std::string("n: ") + bad + "\n");
    auto r = d.root();
    const auto msg = error_of([&] { r.get_int("n", 0); });
    EXPECT_NE(msg.find("<string>:1: key 'n' at the top level: expected an integer, got "),
              std::string::npos)
        << bad << " -> " << msg;
  }
}

TEST(Config, TypeErrorsNameFileLineKeyAndExpectation) {
  auto doc = Document::load_string(
      "# comment\n"
      "broker:\n"
      "  port: abc\n"
      "  flag: yes\n"
      "  name: {a: 1}\n"
      "  list: [a, b]\n"
      "  empty:\n"
      "  sub: 3\n",
      "broker.yaml");
  auto b = doc.root().section("broker");
  EXPECT_EQ(error_of([&] { b.get_int("port", 1, 1, 65535); }),
            "broker.yaml:3: key 'port' in section 'broker': expected an integer between 1 and "
            "65535, got 'abc'");
  EXPECT_EQ(error_of([&] { b.get_bool("flag", false); }),
            "broker.yaml:4: key 'flag' in section 'broker': expected true or false, got 'yes'");
  EXPECT_EQ(error_of([&] { b.get_string("name", ""); }),
            "broker.yaml:5: key 'name' in section 'broker': expected a string, got a mapping");
  EXPECT_EQ(error_of([&] { b.get_string("list", ""); }),
            "broker.yaml:6: key 'list' in section 'broker': expected a string, got a list");
  const auto empty = error_of([&] { b.get_string("empty", ""); });
  EXPECT_NE(empty.find("key 'empty' in section 'broker': expected a string, got an empty value"),
            std::string::npos)
      << empty;
  EXPECT_EQ(error_of([&] { b.section("sub"); }),
            "broker.yaml:8: key 'sub' in section 'broker': expected a mapping, got '3'");
}

TEST(Config, RangesAreChecked) {
  auto doc = Document::load_string("p: 70000\nq: 0\nr: -1\ns: 11\n", "f.yaml");
  auto root = doc.root();
  EXPECT_EQ(error_of([&] { root.get_int("p", 1, 1, 65535); }),
            "f.yaml:1: key 'p' at the top level: expected an integer between 1 and 65535, got "
            "'70000'");
  EXPECT_NE(error_of([&] { root.get_int("q", 1, 1, 65535); }).find("f.yaml:2:"),
            std::string::npos);
  EXPECT_EQ(error_of([&] { root.get_int("r", 0, 0); }),
            "f.yaml:3: key 'r' at the top level: expected an integer of at least 0, got '-1'");
  EXPECT_EQ(error_of([&] { root.get_int("s", 0, INT64_MIN, 10); }),
            "f.yaml:4: key 's' at the top level: expected an integer of at most 10, got '11'");
  EXPECT_EQ(root.get_int("s", 0, 11, 11), 11);
}

TEST(Config, ChoicesTakeOnlyTheListedWords) {
  auto doc = Document::load_string("log:\n  level: warn\nother:\n  level: loud\n", "c.yaml");
  auto root = doc.root();
  EXPECT_EQ(root.section("log").get_choice("level", "info", {"info", "warn"}), "warn");
  EXPECT_EQ(root.section("log").get_choice("absent", "info", {"info", "warn"}), "info");
  try {
    root.section("other").get_choice("level", "info", {"info", "warn"});
    FAIL() << "accepted a word not in the list";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("c.yaml:4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("one of info, warn"), std::string::npos) << e.what();
  }
}

TEST(Config, BoolsTakeOnlyTrueAndFalse) {
  auto doc = Document::load_string("a: true\nb: False\nc: on\nd: 1\n");
  auto root = doc.root();
  EXPECT_TRUE(root.get_bool("a", false));
  EXPECT_FALSE(root.get_bool("b", true));
  EXPECT_NE(error_of([&] { root.get_bool("c", false); }).find("got 'on'"), std::string::npos);
  EXPECT_NE(error_of([&] { root.get_bool("d", false); }).find("got '1'"), std::string::npos);
}

// --- unknown keys -------------------------------------------------------------

TEST(Config, UnknownTopLevelKeyIsNamedWithLine) {
  auto doc = Document::load_string("listen: x\n\nlisten_typo: y\n", "/etc/eck/broker.yaml");
  auto root = doc.root();
  root.get_string("listen", "");
  EXPECT_EQ(error_of([&] { root.finish(); }),
            "/etc/eck/broker.yaml:3: unknown key 'listen_typo' at the top level");
}

TEST(Config, UnknownNestedKeyNamesTheSection) {
  auto doc = Document::load_string(
      "database:\n"
      "  url: x\n"
      "  pool:\n"
      "    size: 3\n"
      "    sise: 4\n",
      "d.yaml");
  auto root = doc.root();
  auto db = root.section("database");
  db.get_string("url", "");
  db.section("pool").get_int("size", 1);
  EXPECT_EQ(error_of([&] { root.finish(); }),
            "d.yaml:5: unknown key 'sise' in section 'database.pool'");
  // finish() on a subsection checks only that subsection.
  auto doc2 = Document::load_string("a:\n  b: 1\nc: 2\n");
  auto r2 = doc2.root();
  auto a = r2.section("a");
  a.get_int("b", 0);
  EXPECT_NO_THROW(a.finish());
  EXPECT_NE(error_of([&] { r2.finish(); }).find("<string>:3: unknown key 'c'"), std::string::npos);
}

TEST(Config, UnreadSectionIsAnUnknownKey) {
  auto doc = Document::load_string("a: 1\nextra:\n  x: 1\n", "e.yaml");
  auto root = doc.root();
  root.get_int("a", 0);
  EXPECT_EQ(error_of([&] { root.finish(); }), "e.yaml:2: unknown key 'extra' at the top level");
}

TEST(Config, UnknownKeysReportedInFileOrderDepthFirst) {
  auto doc = Document::load_string("s:\n  known: 1\n  bad1: 2\nbad2: 3\n", "o.yaml");
  auto root = doc.root();
  root.section("s").get_int("known", 0);
  EXPECT_EQ(error_of([&] { root.finish(); }), "o.yaml:3: unknown key 'bad1' in section 's'");
}

TEST(Config, HasDoesNotClaim) {
  auto doc = Document::load_string("x: 1\n");
  auto root = doc.root();
  EXPECT_TRUE(root.has("x"));
  EXPECT_FALSE(root.has("y"));
  EXPECT_NE(error_of([&] { root.finish(); }).find("unknown key 'x'"), std::string::npos);
}

TEST(Config, DuplicateKeysAreRejected) {
  EXPECT_EQ(error_of([] { Document::load_string("a: 1\nb: 2\na: 3\n", "dup.yaml"); }),
            "dup.yaml:3: duplicate key 'a' at the top level (first given on line 1)");
  auto doc = Document::load_string("s:\n  k: 1\n  k: 2\n", "dup.yaml");
  auto root = doc.root();
  EXPECT_EQ(error_of([&] { root.section("s"); }),
            "dup.yaml:3: duplicate key 'k' in section 's' (first given on line 2)");
}

TEST(Config, NonStringKeysAreRejected) {
  const auto msg = error_of([] { Document::load_string("? [a, b]\n: 1\n", "k.yaml"); });
  EXPECT_NE(msg.find("k.yaml:1: keys must be plain strings"), std::string::npos) << msg;
}

TEST(Config, RequireStringNamesMissingKey) {
  auto doc = Document::load_string("database:\n  pool: 1\n", "r.yaml");
  auto db = doc.root().section("database");
  EXPECT_EQ(error_of([&] { db.require_string("url"); }),
            "r.yaml:2: missing required key 'url' in section 'database'");
  auto empty = Document::load_string("", "r2.yaml");
  EXPECT_EQ(error_of([&] { empty.root().require_string("url"); }),
            "r2.yaml: missing required key 'url' at the top level");
}

// --- lists --------------------------------------------------------------------

TEST(Config, StringLists) {
  auto doc = Document::load_string(
      "flow: [a, 'b c', 3]\n"
      "block:\n"
      "  - x\n"
      "  - y\n"
      "empty: []\n"
      "scalar: a\n"
      "nested: [a, [b]]\n"
      "withnull: [a, ~]\n",
      "l.yaml");
  auto root = doc.root();
  EXPECT_EQ(root.get_string_list("flow", {}), (std::vector<std::string>{"a", "b c", "3"}));
  EXPECT_EQ(root.get_string_list("block", {}), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(root.get_string_list("empty", {"d"}).empty());
  EXPECT_EQ(root.get_string_list("absent", {"d"}), (std::vector<std::string>{"d"}));
  EXPECT_EQ(error_of([&] { root.get_string_list("scalar", {}); }),
            "l.yaml:6: key 'scalar' at the top level: expected a list of strings, got 'a'");
  EXPECT_EQ(error_of([&] { root.get_string_list("nested", {}); }),
            "l.yaml:7: item 2 of key 'nested' at the top level: expected a string, got a list");
  EXPECT_NE(error_of([&] { root.get_string_list("withnull", {}); })
                .find("item 2 of key 'withnull' at the top level: expected a string, got an "
                      "empty value"),
            std::string::npos);
}

// --- files and documents --------------------------------------------------------

TEST(Config, LoadFileNamesTheFile) {
  eck::test::TempDir dir;
  const auto path = write_file(dir, "broker.yaml", "a: 1\nb: 2\n");
  auto doc = Document::load_file(path);
  EXPECT_EQ(doc.name(), path);
  auto root = doc.root();
  root.get_int("a", 0);
  EXPECT_EQ(error_of([&] { root.finish(); }), path + ":2: unknown key 'b' at the top level");
}

TEST(Config, MissingFile) {
  eck::test::TempDir dir;
  const auto path = dir.file("nope.yaml");
  EXPECT_EQ(error_of([&] { Document::load_file(path); }),
            path + ": cannot open: No such file or directory");
}

TEST(Config, DirectoryIsNotAConfigFile) {
  eck::test::TempDir dir;
  const auto msg = error_of([&] { Document::load_file(dir.path()); });
  EXPECT_NE(msg.find(dir.path() + ": cannot read"), std::string::npos) << msg;
}

TEST(Config, OversizedFileIsRefused) {
  eck::test::TempDir dir;
  const auto path = write_file(dir, "big.yaml", "# " + std::string(2 << 20, 'x') + "\n");
  EXPECT_NE(error_of([&] { Document::load_file(path); }).find("larger than"), std::string::npos);
}

TEST(Config, EmptyFileIsEmptyMapping) {
  eck::test::TempDir dir;
  for (const char* text : {"", "\n\n", "# only a comment\n", "---\n", "~\n"}) {
    auto doc = Document::load_file(write_file(dir, "empty.yaml", text));
    auto root = doc.root();
    EXPECT_EQ(root.get_int("x", 5), 5) << text;
    EXPECT_FALSE(root.has("x"));
    EXPECT_NO_THROW(root.finish()) << text;
  }
}

TEST(Config, SyntaxErrorHasLine) {
  const auto msg = error_of([] { Document::load_string("a: 1\nb: [unclosed\nc: 2\n", "s.yaml"); });
  EXPECT_EQ(msg.rfind("s.yaml:", 0), 0u) << msg;
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
  const auto msg2 = error_of([] { Document::load_string("a: 1\n  b: 2\n", "s.yaml"); });
  EXPECT_EQ(msg2.rfind("s.yaml:2: YAML syntax error", 0), 0u) << msg2;
}

TEST(Config, TopLevelMustBeAMapping) {
  EXPECT_EQ(error_of([] { Document::load_string("- a\n- b\n", "t.yaml"); }),
            "t.yaml:1: the top level must be a mapping of keys, got a list");
  EXPECT_EQ(error_of([] { Document::load_string("just text\n", "t.yaml"); }),
            "t.yaml:1: the top level must be a mapping of keys, got 'just text'");
}

TEST(Config, OneDocumentOnly) {
  EXPECT_EQ(error_of([] { Document::load_string("a: 1\n---\nb: 2\n", "m.yaml"); }),
            "m.yaml:2: more than one YAML document");
}

// --- garbage: always ConfigError, never a crash or another exception ------------

// Loads `text` and reads it like a daemon would; true when it was accepted.
// Anything thrown but ConfigError fails the test.
bool survive(const std::string& text) {
  try {
    auto doc = Document::load_string(text, "junk.yaml");
    auto root = doc.root();
    root.get_string("listen", "");
    root.get_int("port", 1, 1, 65535);
    root.get_string_list("topics", {});
    auto db = root.section("database");
    db.get_string("url", "");
    db.get_bool("debug", false);
    root.finish();
    return true;
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).rfind("junk.yaml", 0), std::string::npos) << e.what();
    return false;
  }
}

TEST(ConfigGarbage, BinaryJunk) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> len(0, 400);
  for (int i = 0; i < 3000; ++i) {
    std::string junk;
    const int n = len(rng);
    for (int j = 0; j < n; ++j) junk += static_cast<char>(byte(rng));
    EXPECT_NO_FATAL_FAILURE(survive(junk)) << "iteration " << i;
  }
  EXPECT_FALSE(survive(std::string("\0\0\0\xff\xfe", 5)));
  EXPECT_FALSE(survive("\x7f" "ELF\x02\x01\x01"));
}

TEST(ConfigGarbage, MutatedConfigs) {
  const std::string valid =
      "listen: tcp://*:5570\n"
      "port: 5570\n"
      "topics: [pos., \"catalog.\"]\n"
      "database:\n"
      "  url: 'postgresql:///eck'\n"
      "  debug: false\n";
  ASSERT_TRUE(survive(valid));
  const std::string alphabet = ":-[]{}'\"&*!|>%@`#,? \n\t\\x0";
  std::mt19937 rng(7);
  for (int i = 0; i < 3000; ++i) {
    std::string s = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 1: if (pos < s.size()) s.erase(pos, 1); break;
        default: if (pos < s.size()) s[pos] = static_cast<char>(rng() % 256); break;
      }
    }
    EXPECT_NO_FATAL_FAILURE(survive(s)) << "iteration " << i;
  }
}

TEST(ConfigGarbage, InputsThatHangYamlCppLoadAll) {
  // yaml-cpp 0.7's LoadAll() never returns on these (jbeder/yaml-cpp#1040).
  for (const char* text : {",", ", ", ",a", " ,\n", "\t,"}) {
    const auto msg = error_of([&] { Document::load_string(text, "h.yaml"); });
    EXPECT_NE(msg.find("h.yaml:1: YAML syntax error"), std::string::npos) << msg;
  }
}

TEST(ConfigGarbage, DeeplyNested) {
  EXPECT_FALSE(survive(std::string(100000, '[')));
  EXPECT_FALSE(survive(std::string(100000, '{')));
  std::string flow;
  for (int i = 0; i < 20000; ++i) flow += "{a: ";
  EXPECT_FALSE(survive(flow));
  std::string seq;
  for (int i = 0; i < 20000; ++i) seq += "- ";
  EXPECT_FALSE(survive(seq + "x\n"));
  std::string block;
  for (int i = 0; i < 5000; ++i) block += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
  EXPECT_FALSE(survive(block));
  // Balanced and deep but within yaml-cpp's limit: loads, then rejected as
  // an unknown key by finish().
  std::string ok = "database:\n  x: ";
  for (int i = 0; i < 500; ++i) ok += "[";
  for (int i = 0; i < 500; ++i) ok += "]";
  EXPECT_FALSE(survive(ok + "\n"));
}

TEST(ConfigGarbage, AliasBombIsNotExpanded) {
  // "Billion laughs": only what the daemon reads is looked at, so the shared
  // nodes are never expanded.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 30; ++i) {
    const auto prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 0; j < 9; ++j) bomb += ", " + prev;
    bomb += "]\n";
  }
  bomb += "topics: *a29\n";
  EXPECT_FALSE(survive(bomb));
}

TEST(ConfigGarbage, OddButValidYaml) {
  EXPECT_FALSE(survive("listen: !!binary aGVsbG8=\nport: !custom 5\n<<: {a: 1}\n"));
  EXPECT_TRUE(survive("%YAML 1.2\n%TAG ! tag:x,2000:\n--- !x\nport: 1\n"));
  EXPECT_FALSE(survive("%YAML 99999999999999999999.1\n---\na: 1\n"));
  EXPECT_FALSE(survive("port: &p 5\nlisten: *p\nbad: *nope\n"));
  EXPECT_TRUE(survive("port: &p 5\nlisten: *p\n"));
  EXPECT_FALSE(survive("\xef\xbb\xbf" "port: 5\n\xff\xfe: 1\n"));
}

}  // namespace
