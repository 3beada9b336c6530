// Contains: HasSubstr without gmock, which the tests do not link.
//
//   EXPECT_PRED_FORMAT2(eck::test::Contains, r.err, "unknown key 'prot'");
#pragma once

#include <string>

#include <gtest/gtest.h>

namespace eck::test {

inline ::testing::AssertionResult Contains(const char* text_expr, const char* part_expr, const std::string& text,
                                           const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << text_expr << " does not contain " << part_expr << " (\"" << part
                                       << "\"); it is: " << text;
}

}  // namespace eck::test
