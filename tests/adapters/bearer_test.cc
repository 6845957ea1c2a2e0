#include "auth/bearer.h"

#include <gtest/gtest.h>

namespace dflockd::auth {
namespace {

TEST(Bearer, SchemeInAnyCaseAndTokenTrimmed) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer abc"), "abc");
  EXPECT_EQ(BearerToken("BEARER abc"), "abc");
  EXPECT_EQ(BearerToken("Bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("Bearer\tabc"), "abc");
  EXPECT_EQ(BearerToken("  Bearer abc"), "abc");
}

TEST(Bearer, OtherSchemesAndShapesAreNotBearer) {
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearerabc"));
  EXPECT_FALSE(BearerToken("Bearer"));
  EXPECT_FALSE(BearerToken("abc"));
  EXPECT_FALSE(BearerToken(""));
  EXPECT_FALSE(BearerToken("Bearer   "));
}

TEST(Bearer, TrimTokenKeepsInnerSpaces) {
  EXPECT_EQ(TrimToken("  a b \t"), "a b");
  EXPECT_EQ(TrimToken(""), "");
}

}  // namespace
}  // namespace dflockd::auth
