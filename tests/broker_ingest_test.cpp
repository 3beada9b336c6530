// parse_publish is the broker's first line of defence: every malformed
// publish must become a NACK with the right code, never an exception.
#include <random>

#include <gtest/gtest.h>

#include "eck/events.h"
#include "eck/uuid.h"
#include "ingest.h"

namespace eck::broker {
namespace {

std::string valid_envelope(const std::string& id = new_uuid_v7()) {
  v1::Envelope env;
  env.set_event_id(id);
  env.mutable_product_upserted()->set_sku("SKU-1");
  return env.SerializeAsString();
}

wire::Code code_of(const std::variant<Publish, Nack>& r) {
  EXPECT_TRUE(std::holds_alternative<Nack>(r));
  return std::holds_alternative<Nack>(r) ? std::get<Nack>(r).code : wire::Code::kUnavailable;
}

std::variant<Publish, Nack> parse(std::vector<std::string> frames, std::size_t max = 1024) {
  std::vector<std::string_view> views(frames.begin(), frames.end());
  return parse_publish("peer", views, max);
}

TEST(BrokerIngest, AcceptsAValidPublishAndNormalizesTheId) {
  std::string id = "0190F3B2-1C2D-7E4F-8A9B-0C1D2E3F4A5B";
  auto r = parse({"ECK1", "PUB", "catalog.ProductUpserted", valid_envelope(id)});
  ASSERT_TRUE(std::holds_alternative<Publish>(r));
  EXPECT_EQ(std::get<Publish>(r).event_id, "0190f3b2-1c2d-7e4f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(std::get<Publish>(r).peer, "peer");
}

TEST(BrokerIngest, RejectsEachKindOfGarbageWithItsCode) {
  auto env = valid_envelope();
  EXPECT_EQ(code_of(parse({})), wire::Code::kBadFrames);
  EXPECT_EQ(code_of(parse({"ECK2", "PUB", "catalog.ProductUpserted", env})), wire::Code::kBadVersion);
  EXPECT_EQ(code_of(parse({"ECK1"})), wire::Code::kBadFrames);
  EXPECT_EQ(code_of(parse({"ECK1", "SUB", "catalog.ProductUpserted", env})), wire::Code::kBadCommand);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted"})), wire::Code::kBadFrames);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted", env, "extra"})), wire::Code::kBadFrames);
  v1::Envelope big;
  big.set_event_id(new_uuid_v7());
  big.mutable_product_upserted()->set_name(std::string(2000, 'x'));
  auto too_large = parse({"ECK1", "PUB", "catalog.ProductUpserted", big.SerializeAsString()});
  EXPECT_EQ(code_of(too_large), wire::Code::kTooLarge);
  EXPECT_EQ(std::get<Nack>(too_large).event_id, big.event_id()) << "the publisher must be able to match it";
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted", ""})), wire::Code::kBadEnvelope);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted", "\xff\xff\xff\xff"})),
            wire::Code::kBadEnvelope);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "pos.SaleCompleted", env})), wire::Code::kBadTopic);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "", env})), wire::Code::kBadTopic);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "_eck.heartbeat", env})), wire::Code::kBadTopic);
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted", valid_envelope("not-a-uuid")})),
            wire::Code::kBadEventId);
  v1::Envelope no_payload;
  no_payload.set_event_id(new_uuid_v7());
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted", no_payload.SerializeAsString()})),
            wire::Code::kBadTopic);
  v1::Envelope wrong_type;
  wrong_type.set_event_id(new_uuid_v7());
  wrong_type.set_type("eck.v1.SaleCompleted");
  wrong_type.mutable_product_upserted();
  EXPECT_EQ(code_of(parse({"ECK1", "PUB", "catalog.ProductUpserted", wrong_type.SerializeAsString()})),
            wire::Code::kBadTopic);
}

TEST(BrokerIngest, NackNamesTheEventIdWhenItCouldBeRead) {
  std::string id = new_uuid_v7();
  auto r = parse({"ECK1", "PUB", "pos.SaleCompleted", valid_envelope(id)});
  ASSERT_TRUE(std::holds_alternative<Nack>(r));
  EXPECT_EQ(std::get<Nack>(r).event_id, id);
  EXPECT_NE(std::get<Nack>(r).reason.find("ProductUpserted"), std::string::npos);
}

TEST(BrokerIngest, RandomBytesNeverThrow) {
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::string> frames(rng() % 6);
    for (auto& f : frames) {
      f.resize(rng() % 64);
      for (auto& c : f) c = static_cast<char>(rng());
    }
    if (!frames.empty() && rng() % 2) frames[0] = "ECK1";
    if (frames.size() > 1 && rng() % 2) frames[1] = "PUB";
    EXPECT_NO_THROW(parse(frames));
  }
}

TEST(BrokerIngest, AckAndNackFramesFollowTheProtocol) {
  auto ack = ack_frames("peer", "id", 258, true);
  ASSERT_EQ(ack.size(), 6u);
  EXPECT_EQ(ack[1], "ECK1");
  EXPECT_EQ(ack[2], "ACK");
  EXPECT_EQ(ack[4], std::string("\0\0\0\0\0\0\1\2", 8));
  EXPECT_EQ(ack[5], "\1");
  auto nack = nack_frames(Nack{"peer", "id", wire::Code::kTooLarge, "big"});
  ASSERT_EQ(nack.size(), 6u);
  EXPECT_EQ(nack[2], "NACK");
  EXPECT_EQ(nack[4], "TOO_LARGE");
}

}  // namespace
}  // namespace eck::broker
