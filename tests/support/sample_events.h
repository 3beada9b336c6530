// Small sample events for tests. With a source, the envelope is completed
// (event_id, type, occurred_at, source) as a producer would; without, only
// the payload is set and the code under test completes it.
#pragma once

#include <string>

#include "eck/events.h"
#include "eck/v1/envelope.pb.h"

namespace eck::test {

inline v1::Envelope product(const std::string& sku, const std::string& source = "") {
  v1::Envelope env;
  env.mutable_product_upserted()->set_sku(sku);
  if (!source.empty()) complete_envelope(env, source);
  return env;
}

inline v1::Envelope adjustment(const std::string& id, const std::string& source = "") {
  v1::Envelope env;
  env.mutable_stock_adjusted()->set_adjustment_id(id);
  if (!source.empty()) complete_envelope(env, source);
  return env;
}

}  // namespace eck::test
