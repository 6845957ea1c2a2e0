#include "http/json_codec.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace dflockd::http {
namespace {

// Found by fuzz_http_json: an id of 1e4001 parsed as infinity and was echoed back
// as text no JSON parser accepts.
TEST(JsonCodec, AnInfiniteIdIsNotEchoed) {
  WsRequest r = ParseWsRequest(R"({"id":1e4001,"op":"ping"})");
  std::string reply = WsError(r.id, ErrorFor(core::ErrorCode::kInvalid));
  boost::system::error_code ec;
  boost::json::parse(reply, ec);
  EXPECT_FALSE(ec) << reply;
  EXPECT_TRUE(r.id.is_null());
}

TEST(JsonCodec, OtherIdsAreEchoedAsSent) {
  EXPECT_EQ(ParseWsRequest(R"({"id":2.5,"op":"ping"})").id.as_double(), 2.5);
  EXPECT_EQ(ParseWsRequest(R"({"id":"abc","op":"ping"})").id.as_string(), "abc");
  EXPECT_EQ(ParseWsRequest(R"({"id":18446744073709551615,"op":"ping"})").id.as_uint64(),
            18446744073709551615ull);
}

TEST(JsonCodec, LockDelayPerAcquire) {
  Route route{Endpoint::kAcquire, core::Namespace::kLock, "k", ""};
  auto c = CommandFromBody(route, R"({"lock_delay_s":7})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(std::get<core::Acquire>(c.value()).lock_delay_s, 7);
  auto none = CommandFromBody(route, "{}");
  EXPECT_FALSE(std::get<core::Acquire>(none.value()).lock_delay_s.has_value());
  EXPECT_FALSE(CommandFromBody(route, R"({"lock_delay_s":"7"})").ok());
}

TEST(JsonCodec, WebSocketAuthMessage) {
  WsRequest r = ParseWsRequest(R"({"id":1,"op":"auth","token":"t"})");
  ASSERT_TRUE(r.auth_token.has_value());
  EXPECT_EQ(*r.auth_token, "t");
  EXPECT_FALSE(r.command.ok());
}

}  // namespace
}  // namespace dflockd::http
