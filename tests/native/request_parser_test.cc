#include "native/request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace dflockd::native {
namespace {

using namespace std::string_literals;

TEST(RequestParser, ThreeLines) {
  auto r = ParseRequest("l\nkey\n10 5\nping\n");
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.consumed, 11u);
  EXPECT_EQ(r.request.command, "l");
  EXPECT_EQ(r.request.key, "key");
  EXPECT_EQ(r.request.arg, "10 5");
}

TEST(RequestParser, IncompleteNeedsMore) {
  for (const char* partial : {"", "l", "l\n", "l\nkey", "l\nkey\n", "l\nkey\n10"}) {
    EXPECT_EQ(ParseRequest(partial).status, ParseStatus::kNeedMore) << partial;
  }
}

TEST(RequestParser, CrlfStripped) {
  auto r = ParseRequest("l\r\nkey\r\n10\r\n");
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.request.command, "l");
  EXPECT_EQ(r.request.key, "key");
  EXPECT_EQ(r.request.arg, "10");
}

TEST(RequestParser, EmptyArgLine) {
  auto r = ParseRequest("e\nkey\n\n");
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.request.arg, "");
}

TEST(RequestParser, LineCapIs256BytesIncludingCr) {
  std::string k256(256, 'k');
  EXPECT_EQ(ParseRequest("l\n" + k256 + "\n1\n").status, ParseStatus::kRequest);
  EXPECT_EQ(ParseRequest("l\n" + k256 + "k\n1\n").status, ParseStatus::kOversize);
  EXPECT_EQ(ParseRequest("l\n" + std::string(255, 'k') + "\r\n1\n").status, ParseStatus::kRequest);
  EXPECT_EQ(ParseRequest("l\n" + k256 + "\r\n1\n").status, ParseStatus::kOversize);
  // Detected before the newline arrives.
  EXPECT_EQ(ParseRequest("l\n" + std::string(257, 'k')).status, ParseStatus::kOversize);
  EXPECT_EQ(ParseRequest("l\n" + std::string(256, 'k')).status, ParseStatus::kNeedMore);
  EXPECT_EQ(ParseRequest(std::string(257, 'x')).status, ParseStatus::kOversize);
}

TEST(RequestParser, AuthAndSignalArgMayBe64KiB) {
  std::string big(65536, 'p');
  EXPECT_EQ(ParseRequest("signal\nch\n" + big + "\n").status, ParseStatus::kRequest);
  EXPECT_EQ(ParseRequest("auth\n_\n" + big + "\n").status, ParseStatus::kRequest);
  EXPECT_EQ(ParseRequest("signal\nch\n" + big + "p\n").status, ParseStatus::kOversize);
  EXPECT_EQ(ParseRequest("l\nk\n" + std::string(257, '1') + "\n").status, ParseStatus::kOversize);
  // The key line of signal keeps the normal cap.
  EXPECT_EQ(ParseRequest("signal\n" + std::string(257, 'c') + "\nx\n").status,
            ParseStatus::kOversize);
}

TEST(RequestParser, BinaryBytesPassThrough) {
  const std::string input = "l\n\xff\x00k\n1\n"s;
  auto r = ParseRequest(input);
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.request.key, "\xff\x00k"s);
}

}  // namespace
}  // namespace dflockd::native
