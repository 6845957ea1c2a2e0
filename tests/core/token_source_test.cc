#include "core/token_source.h"

#include <gtest/gtest.h>

#include <set>

namespace dflockd::core {
namespace {

TEST(TokenSource, FormatIsFenceThenRandomInLowercaseHex) {
  TokenSource source(0x0123456789abcdefULL);
  Token t = source.Next();
  std::string s = FormatToken(t);
  ASSERT_EQ(s.size(), 32u);
  EXPECT_EQ(s.substr(0, 16), "0123456789abcdef");
  EXPECT_EQ(s.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ParseToken(s), t);
}

TEST(TokenSource, AppendTokenWritesTheSameDigitsAfterWhatIsThere) {
  const Token t{0x00000000000000ffULL, 0xfedcba9876543210ULL};
  std::string out = "ok ";
  AppendToken(out, t);
  EXPECT_EQ(out, "ok 00000000000000fffedcba9876543210");
  EXPECT_EQ(out.substr(3), FormatToken(t));
}

TEST(TokenSource, FencesStrictlyIncreaseAndNoncesDiffer) {
  TokenSource source(42);
  std::set<std::uint64_t> nonces;
  std::uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    Token t = source.Next();
    EXPECT_GT(t.fence, last);
    last = t.fence;
    nonces.insert(t.nonce);
  }
  EXPECT_EQ(nonces.size(), 1000u);
}

TEST(TokenSource, ParseRejectsAnythingElse) {
  EXPECT_FALSE(ParseToken(""));
  EXPECT_FALSE(ParseToken(std::string(31, 'a')));
  EXPECT_FALSE(ParseToken(std::string(33, 'a')));
  EXPECT_FALSE(ParseToken(std::string(32, 'A')));
  EXPECT_FALSE(ParseToken(std::string(31, 'a') + "g"));
  // Every byte next to a digit range, and bytes outside ASCII, anywhere in the token.
  for (char bad : {'/', ':', '`', 'g', '@', '\0', '\x80', '\xe9', '\xff'}) {
    for (std::size_t at : {0u, 15u, 16u, 31u}) {
      std::string t(32, '0');
      t[at] = bad;
      EXPECT_FALSE(ParseToken(t)) << static_cast<int>(bad) << " at " << at;
    }
  }
  EXPECT_TRUE(ParseToken(std::string(32, 'f')));
  EXPECT_EQ(ParseToken("0123456789abcdef0fedcba987654321"),
            (Token{0x0123456789abcdefULL, 0x0fedcba987654321ULL}));
}

class MemoryStore : public FenceStore {
 public:
  bool Reserve(std::uint64_t limit) override {
    if (fail) return false;
    reservations.push_back(limit);
    return true;
  }
  std::vector<std::uint64_t> reservations;
  bool fail = false;
};

TEST(TokenSource, ReservesFenceBlocksBeforeIssuing) {
  MemoryStore store;
  TokenSource source(100, &store);
  ASSERT_TRUE(source.Ready());
  source.Next();
  ASSERT_EQ(store.reservations.size(), 1u);
  EXPECT_EQ(store.reservations[0], 100 + TokenSource::kReserveBlock);
  EXPECT_EQ(source.reserved_until(), 100 + TokenSource::kReserveBlock);
  for (std::uint64_t i = 1; i < TokenSource::kReserveBlock; ++i) {
    ASSERT_TRUE(source.Ready());
    source.Next();
  }
  EXPECT_EQ(store.reservations.size(), 1u);
  ASSERT_TRUE(source.Ready());
  Token t = source.Next();  // first fence of the next block
  EXPECT_EQ(t.fence, 100 + TokenSource::kReserveBlock);
  ASSERT_EQ(store.reservations.size(), 2u);
  EXPECT_GT(store.reservations[1], t.fence);
}

TEST(TokenSource, NotReadyWhileTheStoreFailsThenRecovers) {
  MemoryStore store;
  store.fail = true;
  TokenSource source(100, &store);
  EXPECT_FALSE(source.Ready());
  EXPECT_FALSE(source.Ready());
  EXPECT_EQ(source.reserved_until(), 0u);
  store.fail = false;
  ASSERT_TRUE(source.Ready());
  EXPECT_EQ(source.Next().fence, 100u);  // nothing was skipped or issued meanwhile
}

TEST(TokenSource, NeverReservesPastTheTopOfTheRange) {
  MemoryStore store;
  TokenSource source(UINT64_MAX - 10, &store);
  EXPECT_FALSE(source.Ready());  // the block would wrap: refuse rather than go backwards
  EXPECT_TRUE(store.reservations.empty());
}

}  // namespace
}  // namespace dflockd::core
