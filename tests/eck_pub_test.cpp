// eck-pub as integrators use it: a real process against the real broker.
#include <sys/wait.h>

#include <fstream>

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include "support/broker_process.h"
#include "support/child_process.h"
#include "support/test_pg.h"

namespace eck {
namespace {

struct PubResult {
  int code = -1;
  std::string out;
};

class EckPubTest : public ::testing::Test {
 protected:
  void SetUp() override { broker_.start(); }

  // Runs eck-pub through sh so stdin can come from a file.
  PubResult pub(const std::string& args, const std::string& stdin_text = "") {
    std::ofstream(dir_.file("in.txt")) << stdin_text;
    std::remove(dir_.file("out.log").c_str());
    test::ChildProcess p("/bin/sh",
                         {"-c", test::build_dir() + "/tools/eck-pub --endpoint " + broker_.ingest() +
                                    " " + args + " < " + dir_.file("in.txt")},
                         dir_.file("out.log"));
    auto st = p.wait_exit(std::chrono::seconds(30));
    PubResult r;
    r.out = p.log_contents();
    if (st && WIFEXITED(*st)) r.code = WEXITSTATUS(*st);
    return r;
  }
  std::int64_t journal_rows() {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    return tx.exec1("SELECT count(*) FROM broker.journal")[0].as<std::int64_t>();
  }

  test::TempDir dir_;
  test::TestDatabase db_;
  test::BrokerProcess broker_{db_.url()};
};

TEST_F(EckPubTest, PublishesOneEventAndPrintsItsSequence) {
  auto r = pub("--type SaleCompleted --json '{\"sale_id\":\"S1\",\"register_id\":\"R1\"}'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("seq=1 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("topic=pos.SaleCompleted duplicate=0"), std::string::npos) << r.out;
}

TEST_F(EckPubTest, SameEventIdTwiceIsReportedAsDuplicate) {
  const std::string args =
      "--event-id 0193a000-0000-7000-8000-00000000abcd --type ProductUpserted --json '{\"sku\":\"A\"}'";
  EXPECT_EQ(pub(args).code, 0);
  auto r = pub(args);
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("seq=1 event_id=0193a000-0000-7000-8000-00000000abcd"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("duplicate=1"), std::string::npos) << r.out;
  EXPECT_EQ(journal_rows(), 1);
}

TEST_F(EckPubTest, JsonLinesOnStdinArePublishedInOrder) {
  auto r = pub("", "{\"productUpserted\":{\"sku\":\"A\"}}\n\n{\"sale_completed\":{\"sale_id\":\"S\"}}\n");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_LT(r.out.find("seq=1 "), r.out.find("seq=2 ")) << r.out;
  r = pub("--type StockReceived", "{\"receipt_id\":\"G1\"}\n{\"receipt_id\":\"G2\"}\n");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("seq=4 "), std::string::npos) << r.out;
}

TEST_F(EckPubTest, BadInputPublishesNothingAndExitsTwo) {
  for (const auto& [args, in] : std::vector<std::pair<std::string, std::string>>{
           {"--type NoSuchEvent --json '{}'", ""},
           {"--type ProductUpserted --json '{\"sku\": 5'", ""},
           {"--type ProductUpserted --json '{\"no_field\":1}'", ""},
           {"--json '{}'", ""},
           {"--bogus", ""},
           {"--timeout-ms soon --type ProductUpserted --json '{}'", ""},
           {"--event-id nope --type ProductUpserted --json '{}'", ""},
           {"", "{\"productUpserted\":{\"sku\":\"A\"}}\n{broken\n"},
           {"", "{\"eventId\":\"not-a-uuid\",\"productUpserted\":{}}\n"},
           {"", "{\"source\":\"no payload\"}\n"},
           {"", std::string("\x00\x01\xff\xfe\n", 5)},
           {"", ""},
       }) {
    auto r = pub(args, in);
    EXPECT_EQ(r.code, 2) << args << " | " << in << "\n" << r.out;
    EXPECT_NE(r.out.find("eck-pub:"), std::string::npos) << r.out;
  }
  EXPECT_EQ(journal_rows(), 0) << "nothing is sent when any input is bad";
}

TEST_F(EckPubTest, ARefusedEventExitsOneWithTheReason) {
  std::string big(2 << 20, 'x');
  auto r = pub("--type ProductUpserted", "{\"name\":\"" + big + "\"}\n");
  EXPECT_EQ(r.code, 1) << r.out.substr(0, 500);
  EXPECT_NE(r.out.find("NACK TOO_LARGE"), std::string::npos) << r.out.substr(0, 500);
}

TEST_F(EckPubTest, UnreachableBrokerExitsThree) {
  test::ChildProcess p(test::build_dir() + "/tools/eck-pub",
                       {"--endpoint", "ipc://" + dir_.file("nobody"), "--timeout-ms", "500", "--type",
                        "ProductUpserted", "--json", "{}"},
                       dir_.file("unreach.log"));
  auto st = p.wait_exit(std::chrono::seconds(20));
  ASSERT_TRUE(st && WIFEXITED(*st));
  EXPECT_EQ(WEXITSTATUS(*st), 3) << p.log_contents();
}

}  // namespace
}  // namespace eck
