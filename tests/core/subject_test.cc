#include "core/subject.h"

#include <gtest/gtest.h>

namespace dflockd::core {
namespace {

struct MatchCase {
  const char* pattern;
  const char* channel;
  bool matches;
};

TEST(Subject, WildcardMatchingTable) {
  const MatchCase cases[] = {
      {"a", "a", true},           {"a", "b", false},          {"a.b", "a.b", true},
      {"a.b", "a", false},        {"a", "a.b", false},        {"a.*", "a.b", true},
      {"a.*", "a", false},        {"a.*", "a.b.c", false},    {"*", "a", true},
      {"*", "a.b", false},        {"*.b", "a.b", true},       {"*.*", "a.b", true},
      {"a.*.c", "a.b.c", true},   {"a.*.c", "a.b.d", false},  {"a.>", "a.b", true},
      {"a.>", "a.b.c", true},     {"a.>", "a", false},        {">", "a", true},
      {">", "a.b.c", true},       {"*.>", "a.b", true},       {"*.>", "a", false},
      {"a.*.>", "a.b.c.d", true}, {"a.*.>", "a.b", false},    {"events.user.*", "events.user.login", true},
      {"events.>", "events.order.created", true},             {"ab", "a", false},
  };
  for (const auto& c : cases) {
    ASSERT_TRUE(IsValidPattern(c.pattern)) << c.pattern;
    ASSERT_TRUE(IsValidChannel(c.channel)) << c.channel;
    EXPECT_EQ(SubjectMatches(c.pattern, c.channel), c.matches) << c.pattern << " vs " << c.channel;
  }
}

TEST(Subject, PatternValidation) {
  for (const char* ok : {"a", "a.b", "*", ">", "a.*", "a.>", "*.*.>", "a-b_c.d:e"}) {
    EXPECT_TRUE(IsValidPattern(ok)) << ok;
  }
  for (const char* bad : {"", "fo*", "a>", "a.>.b", ">.a", "a..b", ".a", "a.", "a b", "a\tb", "**"}) {
    EXPECT_FALSE(IsValidPattern(bad)) << bad;
  }
}

TEST(Subject, ChannelValidation) {
  EXPECT_TRUE(IsValidChannel("a.b.c"));
  EXPECT_FALSE(IsValidChannel("a.*"));
  EXPECT_FALSE(IsValidChannel("a.>"));
  EXPECT_FALSE(IsValidChannel("a*b"));
  EXPECT_FALSE(IsValidChannel(""));
  EXPECT_FALSE(IsValidChannel(std::string(257, 'a')));
}

TEST(Subject, KeyValidation) {
  EXPECT_TRUE(IsValidKey("k"));
  EXPECT_TRUE(IsValidKey(std::string(256, 'k')));
  EXPECT_TRUE(IsValidKey("\xff\xfe"));  // bytes, not necessarily UTF-8
  EXPECT_FALSE(IsValidKey(std::string(257, 'k')));
  EXPECT_FALSE(IsValidKey(""));
  EXPECT_FALSE(IsValidKey("a b"));
  EXPECT_FALSE(IsValidKey("a\rb"));
}

}  // namespace
}  // namespace dflockd::core
