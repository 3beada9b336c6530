// eck-tap as a real process (build/tools/eck-tap), against the real broker,
// and against a scripted one for what the real broker never journals. Its
// stdout goes to a file of its own (through /bin/sh), so the test sees
// exactly the JSON lines; stderr goes to the ChildProcess log.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <future>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "eck/events.h"
#include "eck/publisher.h"
#include "support/sample_events.h"
#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/scripted_broker.h"
#include "support/test_pg.h"

namespace eck {
namespace {

v1::Envelope product(const std::string& sku) { return test::product(sku, "tap-test"); }
v1::Envelope adjustment(const std::string& id) { return test::adjustment(id, "tap-test"); }


using namespace std::chrono_literals;
using google::protobuf::Struct;
using google::protobuf::Value;

std::string tap_binary() { return test::build_dir() + "/tools/eck-tap"; }

Struct parse(const std::string& line) {
  Struct s;
  auto st = google::protobuf::util::JsonStringToMessage(line, &s);
  EXPECT_TRUE(st.ok()) << "not JSON: " << line;
  return s;
}

const Value& field(const Struct& s, const std::string& name) {
  static const Value kNull;
  auto it = s.fields().find(name);
  return it == s.fields().end() ? kNull : it->second;
}

std::uint64_t seq_of(const Struct& s) {
  return static_cast<std::uint64_t>(field(s, "seq").number_value());
}

std::string str(const Struct& s, const std::string& name) { return field(s, name).string_value(); }

// One eck-tap process.
class Tap {
 public:
  Tap(const std::string& dir, std::vector<std::string> args) : out_(dir + "/stdout") {
    std::vector<std::string> sh{"-c", "exec \"$0\" \"$@\" >\"$ECK_TAP_STDOUT\"", tap_binary()};
    sh.insert(sh.end(), args.begin(), args.end());
    proc_ = std::make_unique<test::ChildProcess>("/bin/sh", sh, dir + "/stderr",
                                                 test::ChildProcess::Env{{"ECK_TAP_STDOUT", out_}});
  }

  std::vector<std::string> lines() const {
    std::ifstream in(out_);
    std::vector<std::string> v;
    for (std::string l; std::getline(in, l);) v.push_back(l);
    return v;
  }
  std::vector<Struct> objects() const {
    std::vector<Struct> v;
    for (const auto& l : lines()) v.push_back(parse(l));
    return v;
  }
  bool wait_lines(std::size_t n, std::chrono::milliseconds timeout = 20s) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (lines().size() < n) {
      if (std::chrono::steady_clock::now() >= until || !proc_->running()) return lines().size() >= n;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  // Exit code, or -1 (with a test failure) when it did not exit normally.
  int exit_code(std::chrono::milliseconds timeout = 30s) {
    auto st = proc_->wait_exit(timeout);
    if (!st) {
      ADD_FAILURE() << "eck-tap still running; stderr:\n" << proc_->log_contents();
      return -1;
    }
    if (!WIFEXITED(*st)) {
      ADD_FAILURE() << "eck-tap " << test::ChildProcess::describe_status(*st) << "; stderr:\n"
                    << proc_->log_contents();
      return -1;
    }
    return WEXITSTATUS(*st);
  }
  test::ChildProcess& proc() { return *proc_; }
  std::string err() const { return proc_->log_contents(); }

 private:
  std::string out_;
  std::unique_ptr<test::ChildProcess> proc_;
};

class TapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    broker = std::make_unique<test::BrokerProcess>(pg_.url());
    broker->start();
    PublisherOptions o;
    o.endpoint = broker->ingest();
    o.source = "tap-test";
    pub = std::make_unique<Publisher>(o);
  }

  Tap tap(std::vector<std::string> args) {
    std::vector<std::string> a{"--fanout", broker->fanout(), "--replay", broker->replay()};
    a.insert(a.end(), args.begin(), args.end());
    return Tap(test::temp_dir(), a);
  }

  // Publishes and returns the acks, in order.
  std::vector<Ack> publish(std::vector<v1::Envelope> envs) {
    std::vector<std::future<Ack>> fs;
    for (auto& e : envs) fs.push_back(pub->publish(std::move(e)));
    std::vector<Ack> acks;
    for (auto& f : fs) acks.push_back(f.get());
    return acks;
  }

  test::TestDatabase pg_;
  std::unique_ptr<test::BrokerProcess> broker;
  std::unique_ptr<Publisher> pub;
};

TEST_F(TapTest, FromOneWithCountPrintsExactlyThoseEventsInOrder) {
  std::vector<v1::Envelope> envs;
  for (int i = 0; i < 8; ++i) envs.push_back(i % 3 == 2 ? adjustment("a" + std::to_string(i))
                                                        : product("p" + std::to_string(i)));
  envs[1].set_subject("the-subject");
  envs[1].set_correlation_id("corr-1");
  const auto acks = publish(envs);
  for (int i = 0; i < 4; ++i) publish({product("later" + std::to_string(i))});

  Tap t = tap({"--from", "1", "--count", "8"});
  ASSERT_EQ(t.exit_code(), 0) << t.err();
  auto objs = t.objects();
  ASSERT_EQ(objs.size(), 8u) << t.err();
  for (std::size_t i = 0; i < objs.size(); ++i) {
    const auto& o = objs[i];
    const auto& env = envs[i];
    EXPECT_EQ(seq_of(o), acks[i].seq);
    EXPECT_EQ(seq_of(o), i + 1);
    EXPECT_EQ(str(o, "topic"), kind_of(env)->topic);
    EXPECT_EQ(str(o, "event_id"), acks[i].event_id);
    EXPECT_EQ(str(o, "source"), "tap-test");
    EXPECT_EQ(str(o, "type"), kind_of(env)->type);
    EXPECT_FALSE(str(o, "occurred_at").empty());
    ASSERT_TRUE(field(o, "payload").has_struct_value()) << t.lines()[i];
    const auto& payload = field(o, "payload").struct_value();
    if (env.has_product_upserted())
      EXPECT_EQ(str(payload, "sku"), env.product_upserted().sku());
    else
      EXPECT_EQ(str(payload, "adjustment_id"), env.stock_adjusted().adjustment_id());
  }
  EXPECT_EQ(str(objs[1], "subject"), "the-subject");
  EXPECT_EQ(str(objs[1], "correlation_id"), "corr-1");
  EXPECT_EQ(objs[0].fields().count("subject"), 0u) << "empty attributes are left out";
  EXPECT_EQ(objs[0].fields().count("causation_id"), 0u);
}

TEST_F(TapTest, FromInTheMiddle) {
  std::vector<v1::Envelope> envs;
  for (int i = 0; i < 6; ++i) envs.push_back(product("p" + std::to_string(i)));
  publish(envs);
  Tap t = tap({"--from", "3", "--count", "2"});
  ASSERT_EQ(t.exit_code(), 0) << t.err();
  auto objs = t.objects();
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_EQ(seq_of(objs[0]), 3u);
  EXPECT_EQ(seq_of(objs[1]), 4u);
}

TEST_F(TapTest, TopicPrefixesFilter) {
  std::vector<v1::Envelope> envs;
  for (int i = 0; i < 9; ++i) envs.push_back(i % 3 == 2 ? adjustment("a" + std::to_string(i))
                                                        : product("p" + std::to_string(i)));
  publish(envs);  // adjustments are seqs 3, 6, 9
  Tap t = tap({"--from", "1", "--topic", "warehouse.", "--count", "3"});
  ASSERT_EQ(t.exit_code(), 0) << t.err();
  auto objs = t.objects();
  ASSERT_EQ(objs.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(seq_of(objs[i]), 3 * (i + 1));
    EXPECT_EQ(str(objs[i], "topic"), "warehouse.StockAdjusted");
  }

  Tap both = tap({"--from", "2", "--topic", "warehouse.", "--topic", "catalog.", "--count", "3"});
  ASSERT_EQ(both.exit_code(), 0) << both.err();
  objs = both.objects();
  ASSERT_EQ(objs.size(), 3u);
  EXPECT_EQ(seq_of(objs[0]), 2u);
  EXPECT_EQ(seq_of(objs[2]), 4u);
}

TEST_F(TapTest, WithoutFromItStartsAtTheHeadAndFollowsLive) {
  publish({product("old1"), product("old2"), product("old3")});
  Tap t = tap({"--count", "2", "--log-level", "info"});
  ASSERT_TRUE(t.proc().wait_for_log("following the live feed", 20s)) << t.err();
  const auto acks = publish({product("new1"), adjustment("new2")});
  ASSERT_EQ(t.exit_code(), 0) << t.err();
  auto objs = t.objects();
  ASSERT_EQ(objs.size(), 2u);
  EXPECT_EQ(seq_of(objs[0]), 4u);
  EXPECT_EQ(str(objs[0], "event_id"), acks[0].event_id);
  EXPECT_EQ(seq_of(objs[1]), 5u);
  EXPECT_EQ(str(objs[1], "topic"), "warehouse.StockAdjusted");
}

TEST_F(TapTest, SignalsExitZeroWithEverythingPrinted) {
  publish({product("a"), product("b"), product("c")});
  for (int sig : {SIGINT, SIGTERM}) {
    Tap t = tap({"--from", "1"});
    ASSERT_TRUE(t.wait_lines(3)) << t.err();
    publish({product("live-" + std::to_string(sig))});
    ASSERT_TRUE(t.wait_lines(3 + (sig == SIGINT ? 1 : 2))) << t.err();
    t.proc().kill(sig);
    EXPECT_EQ(t.exit_code(10s), 0) << "signal " << sig;
    for (const auto& o : t.objects()) EXPECT_GT(seq_of(o), 0u);
  }
}

TEST_F(TapTest, StatsPrintsEventsPerSecondPerTopic) {
  std::vector<v1::Envelope> envs;
  for (int i = 0; i < 8; ++i) envs.push_back(i % 3 == 2 ? adjustment("a" + std::to_string(i))
                                                        : product("p" + std::to_string(i)));
  publish(envs);  // 6 products, 2 adjustments
  Tap t = tap({"--from", "1", "--stats"});
  // Two topics, at least two ticks.
  ASSERT_TRUE(t.wait_lines(4, 20s)) << t.err();
  t.proc().kill(SIGTERM);
  EXPECT_EQ(t.exit_code(10s), 0);
  std::map<std::string, double> total;
  for (const auto& o : t.objects()) {
    EXPECT_TRUE(str(o, "t").ends_with("Z")) << str(o, "t");
    EXPECT_TRUE(field(o, "events_per_s").has_number_value());
    total[str(o, "topic")] += field(o, "events_per_s").number_value();
  }
  EXPECT_EQ(total.size(), 2u);
  EXPECT_EQ(total["catalog.ProductUpserted"], 6);
  EXPECT_EQ(total["warehouse.StockAdjusted"], 2);
}

TEST_F(TapTest, HeartbeatsOnRequest) {
  publish({product("a")});
  Tap t = tap({"--heartbeats", "--topic", "nothing."});
  ASSERT_TRUE(t.wait_lines(1)) << t.err();
  t.proc().kill(SIGTERM);
  EXPECT_EQ(t.exit_code(10s), 0);
  auto objs = t.objects();
  ASSERT_FALSE(objs.empty());
  EXPECT_EQ(str(objs[0], "topic"), "_eck.heartbeat");
  EXPECT_GE(seq_of(objs[0]), 1u);
  ASSERT_TRUE(field(objs[0], "heartbeat").has_struct_value());
  EXPECT_FALSE(str(field(objs[0], "heartbeat").struct_value(), "journal_id").empty());

  // A prefix of the heartbeat topic asks for them too.
  Tap by_topic = tap({"--topic", "_eck.heartbeat"});
  ASSERT_TRUE(by_topic.wait_lines(1)) << by_topic.err();
  by_topic.proc().kill(SIGINT);
  EXPECT_EQ(by_topic.exit_code(10s), 0);
  EXPECT_EQ(str(by_topic.objects()[0], "topic"), "_eck.heartbeat");
}

// ---- without a real broker -------------------------------------------------

TEST(TapArgs, BadArgumentsExitWith2) {
  const std::vector<std::vector<std::string>> bad{
      {"--bogus"},
      {"--count", "0"},
      {"--count", "x"},
      {"--from", "-1"},
      {"--from"},
      {"--topic"},
      {"positional"},
      {"--stats", "--count", "3"},
      {"--stats", "--heartbeats"},
      {"--log-level", "loud"},
      {"--fanout", "not-an-endpoint"},
  };
  for (const auto& args : bad) {
    test::TempDir dir;
    test::ChildProcess p(tap_binary(), args, dir.file("log"));
    auto st = p.wait_exit(10s);
    ASSERT_TRUE(st) << args[0];
    EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2)
        << args[0] << ": " << test::ChildProcess::describe_status(*st) << "\n" << p.log_contents();
    EXPECT_NE(p.log_contents().find("eck-tap: "), std::string::npos) << p.log_contents();
  }
}

TEST(TapArgs, HelpAndVersion) {
  test::TempDir dir;
  test::ChildProcess help(tap_binary(), {"--help"}, dir.file("help"));
  auto st = help.wait_exit(10s);
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  EXPECT_NE(help.log_contents().find("usage: eck-tap"), std::string::npos);
  EXPECT_NE(help.log_contents().find("--stats"), std::string::npos);
  test::ChildProcess version(tap_binary(), {"--version"}, dir.file("version"));
  st = version.wait_exit(10s);
  ASSERT_TRUE(st && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
  EXPECT_EQ(version.log_contents().rfind("eck-tap ", 0), 0u) << version.log_contents();
}

TEST(TapScripted, UndecodableEnvelopePrintsAnErrorLine) {
  test::TempDir dir;
  test::ScriptedBroker b("ipc://" + dir.file("fanout"), "ipc://" + dir.file("replay"));
  b.append(product("p1"), false);
  b.append("catalog.ProductUpserted", "\xff\xff\xff not protobuf", false);
  b.append(product("p3"), false);
  Tap t(dir.path(), {"--fanout", "ipc://" + dir.file("fanout"), "--replay",
                     "ipc://" + dir.file("replay"), "--from", "1", "--count", "3"});
  ASSERT_EQ(t.exit_code(), 0) << t.err();
  auto objs = t.objects();
  ASSERT_EQ(objs.size(), 3u);
  EXPECT_EQ(seq_of(objs[1]), 2u);
  EXPECT_EQ(str(objs[1], "topic"), "catalog.ProductUpserted");
  EXPECT_EQ(str(objs[1], "error"), "envelope does not decode as eck.v1.Envelope");
  EXPECT_EQ(field(objs[1], "size").number_value(), 16);
  EXPECT_EQ(str(field(objs[2], "payload").struct_value(), "sku"), "p3");
}

}  // namespace
}  // namespace eck
