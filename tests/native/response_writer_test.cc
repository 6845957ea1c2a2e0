#include "native/response_writer.h"

#include <gtest/gtest.h>

#include "json/stats_json.h"

namespace dflockd::native {
namespace {

using core::ErrorCode;

std::string Write(const core::Result<core::Reply>& r, bool enqueue = false) {
  std::string out;
  AppendResponse(out, r, enqueue);
  return out;
}

TEST(ResponseWriter, EveryErrorCode) {
  const std::pair<ErrorCode, const char*> table[] = {
      {ErrorCode::kInvalid, "error\n"},
      {ErrorCode::kNotHeld, "error\n"},
      {ErrorCode::kTimeout, "timeout\n"},
      {ErrorCode::kMaxLocks, "error_max_locks\n"},
      {ErrorCode::kMaxWaiters, "error_max_waiters\n"},
      {ErrorCode::kLimitMismatch, "error_limit_mismatch\n"},
      {ErrorCode::kNotEnqueued, "error_not_enqueued\n"},
      {ErrorCode::kAlreadyEnqueued, "error_already_enqueued\n"},
      {ErrorCode::kLeaseExpired, "error_lease_expired\n"},
      {ErrorCode::kMaxSubscriptions, "error\n"},
      {ErrorCode::kDraining, "error_draining\n"},
      {ErrorCode::kFenceUnavailable, "error\n"},
      {ErrorCode::kCancelled, "error\n"},
  };
  for (auto [code, text] : table) EXPECT_EQ(Write(code), text) << core::ToString(code);
}

TEST(ResponseWriter, EveryReply) {
  core::Granted g{core::Token{0x0123456789abcdefULL, 0x0123456789abcdefULL}, 33};
  EXPECT_EQ(Write(core::Reply{g}), "ok 0123456789abcdef0123456789abcdef 33\n");
  EXPECT_EQ(Write(core::Reply{g}, true), "acquired 0123456789abcdef0123456789abcdef 33\n");
  EXPECT_EQ(Write(core::Reply{core::Queued{}}, true), "queued\n");
  EXPECT_EQ(Write(core::Reply{core::Renewed{20}}), "ok 20\n");
  EXPECT_EQ(Write(core::Reply{core::Ack{}}), "ok\n");
  EXPECT_EQ(Write(core::Reply{core::Published{3}}), "ok 3\n");
  EXPECT_EQ(Write(core::Reply{core::StatsSnapshot{}}),
            "ok {\"connections\":0,\"locks\":[],\"semaphores\":[],\"idle_locks\":[],"
            "\"idle_semaphores\":[],\"signal_channels\":[]}\n");
}

TEST(ResponseWriter, PushFrame) {
  std::string out;
  AppendPush(out, "a.b", " x y ");
  EXPECT_EQ(out, "sig a.b  x y \n");
}

TEST(StatsJson, FullSnapshotKeyOrderAndEscaping) {
  core::StatsSnapshot s;
  s.connections = 2;
  s.locks.push_back({"job", 3, 25.44, 1});
  s.semaphores.push_back({"pool", 3, 2, 0});
  s.idle_locks.push_back({"o\"ld\\\x01", 12.66});
  s.idle_semaphores.push_back({"\xff", 3.1});
  s.signal_channels.push_back({"events.>", "", 2});
  s.signal_channels.push_back({"jobs.*", "workers", 3});
  std::string out;
  json::AppendStatsJson(out, s);
  EXPECT_EQ(out,
            "{\"connections\":2,"
            "\"locks\":[{\"key\":\"job\",\"owner_conn_id\":3,\"lease_expires_in_s\":25.4,"
            "\"waiters\":1}],"
            "\"semaphores\":[{\"key\":\"pool\",\"limit\":3,\"holders\":2,\"waiters\":0}],"
            "\"idle_locks\":[{\"key\":\"o\\\"ld\\\\\\u0001\",\"idle_s\":12.7}],"
            "\"idle_semaphores\":[{\"key\":\"\\ufffd\",\"idle_s\":3.1}],"
            "\"signal_channels\":[{\"pattern\":\"events.>\",\"listeners\":2},"
            "{\"pattern\":\"jobs.*\",\"group\":\"workers\",\"listeners\":3}]}");
}

TEST(StatsJson, ValidUtf8KeptAsIs) {
  core::StatsSnapshot s;
  s.idle_locks.push_back({"h\xc3\xa9llo-\xe2\x82\xac-\xf0\x9f\x94\x92", 0});
  std::string out;
  json::AppendStatsJson(out, s);
  EXPECT_NE(out.find("\"h\xc3\xa9llo-\xe2\x82\xac-\xf0\x9f\x94\x92\""), std::string::npos);
}

}  // namespace
}  // namespace dflockd::native

namespace dflockd::native {
namespace {

// Found by fuzz_response_writer: rounding to one decimal overflowed to "inf".
TEST(StatsJson, HugeSecondsStayValidJson) {
  core::StatsSnapshot s;
  s.locks.push_back({"k", 1, 1e308, 0, 1e308});
  std::string out;
  json::AppendStatsJson(out, s);
  EXPECT_EQ(out.find("inf"), std::string::npos) << out;
  EXPECT_NE(out.find("\"lease_expires_in_s\":1000000000000000.0"), std::string::npos) << out;
}

TEST(StatsJson, SafetyFieldsOnlyWhileTheyApply) {
  core::StatsSnapshot s;
  std::string quiet;
  json::AppendStatsJson(quiet, s);
  EXPECT_EQ(quiet.find("lock_delay"), std::string::npos);
  EXPECT_EQ(quiet.find("grace"), std::string::npos);
  EXPECT_EQ(quiet.find("fences"), std::string::npos);
  s.keys_in_lock_delay = 2;
  s.restart_grace_remaining_s = 4.25;
  s.fences_unavailable = true;
  s.locks.push_back({"k", 0, 0, 1, 1.5});
  std::string out;
  json::AppendStatsJson(out, s);
  EXPECT_NE(out.find("\"waiters\":1,\"lock_delay_remaining_s\":1.5}"), std::string::npos) << out;
  EXPECT_NE(out.find(",\"keys_in_lock_delay\":2,\"restart_grace_remaining_s\":4.3,"
                     "\"fences_unavailable\":true}"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace dflockd::native
