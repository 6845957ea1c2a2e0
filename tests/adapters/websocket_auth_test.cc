#include "http/websocket_auth.h"

#include <gtest/gtest.h>

namespace dflockd::http {
namespace {

TEST(WebSocketKey, SixteenBytesInBase64) {
  EXPECT_TRUE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ=="));  // RFC 6455's example
  EXPECT_TRUE(IsValidWebSocketKey("AAAAAAAAAAAAAAAAAAAAAA=="));
  EXPECT_FALSE(IsValidWebSocketKey(""));
  EXPECT_FALSE(IsValidWebSocketKey("short"));
  EXPECT_FALSE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ"));      // no padding
  EXPECT_FALSE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZR=="));    // 4 stray low bits
  EXPECT_FALSE(IsValidWebSocketKey("!!!!!!!!!!!!!!!!!!!!!!=="));
  EXPECT_FALSE(IsValidWebSocketKey("dGhlIHNhbXBsZSBub25jZQ==AAAA"));  // longer than 16 bytes
}

TEST(Base64Url, DecodesWithAndWithoutPadding) {
  EXPECT_EQ(DecodeBase64Url("czNjcmV0LXRva2Vu"), "s3cret-token");
  EXPECT_EQ(DecodeBase64Url("YQ"), "a");
  EXPECT_EQ(DecodeBase64Url("YQ=="), "a");
  EXPECT_EQ(DecodeBase64Url("_-8"), std::string("\xff\xef", 2));
  EXPECT_FALSE(DecodeBase64Url("a+b/"));  // standard alphabet is not base64url
  EXPECT_FALSE(DecodeBase64Url("Y"));     // impossible length
}

TEST(BearerSubprotocol, SelectsDflockdWhenOffered) {
  auto found = FindBearerSubprotocol("dflockd, bearer.czNjcmV0LXRva2Vu");
  EXPECT_EQ(found.entry, "bearer.czNjcmV0LXRva2Vu");
  EXPECT_EQ(found.token, "s3cret-token");
  EXPECT_EQ(found.selected, "dflockd");
}

TEST(BearerSubprotocol, EchoesTheEntryAlone) {
  auto found = FindBearerSubprotocol("bearer.YQ");
  EXPECT_EQ(found.token, "a");
  EXPECT_EQ(found.selected, "bearer.YQ");
}

TEST(BearerSubprotocol, NoneOrMalformed) {
  EXPECT_TRUE(FindBearerSubprotocol("chat, superchat").entry.empty());
  EXPECT_TRUE(FindBearerSubprotocol("chat, superchat").selected.empty());
  // `dflockd` alone (a browser without a token) is selected too: a browser fails a
  // socket whose offered subprotocols all go unanswered.
  EXPECT_EQ(FindBearerSubprotocol("dflockd").selected, "dflockd");
  EXPECT_TRUE(FindBearerSubprotocol("dflockd").entry.empty());
  EXPECT_TRUE(FindBearerSubprotocol("").entry.empty());
  auto bad = FindBearerSubprotocol("bearer.!!");
  EXPECT_EQ(bad.entry, "bearer.!!");
  EXPECT_FALSE(bad.token);
}

}  // namespace
}  // namespace dflockd::http
