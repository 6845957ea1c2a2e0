#include "native/command_mapper.h"

#include <gtest/gtest.h>

namespace dflockd::native {
namespace {

MappedRequest Map(std::string_view cmd, std::string_view key, std::string_view arg) {
  return MapRequest(RawRequest{cmd, key, arg});
}

TEST(CommandMapper, AcquireWithAndWithoutLease) {
  auto m = Map("l", "k", "10");
  ASSERT_EQ(m.kind, RequestKind::kCommand);
  auto& a = std::get<core::Acquire>(m.command);
  EXPECT_EQ(a.ns, core::Namespace::kLock);
  EXPECT_EQ(a.key, "k");
  EXPECT_EQ(a.timeout_s, 10);
  EXPECT_FALSE(a.lease_s);
  auto m2 = Map("l", "k", " \t10   20 ");
  EXPECT_EQ(*std::get<core::Acquire>(m2.command).lease_s, 20);
}

TEST(CommandMapper, SemaphoreAcquire) {
  auto m = Map("sl", "p", "5 3 60");
  auto& a = std::get<core::Acquire>(m.command);
  EXPECT_EQ(a.ns, core::Namespace::kSemaphore);
  EXPECT_EQ(a.limit, 3u);
  EXPECT_EQ(*a.lease_s, 60);
}

TEST(CommandMapper, ExactFieldCounts) {
  struct Case {
    const char* cmd;
    const char* arg;
    bool ok;
  };
  const Case cases[] = {
      {"l", "", false},         {"l", "1", true},        {"l", "1 2", true},
      {"l", "1 2 3", false},    {"n", "", false},        {"n", "tok", true},
      {"n", "tok 5", true},     {"n", "tok 5 6", false}, {"e", "", true},
      {"e", "5", true},         {"e", "5 6", false},     {"w", "", false},
      {"w", "1", true},         {"w", "1 2", false},     {"sl", "1", false},
      {"sl", "1 2", true},      {"sl", "1 2 3", true},   {"sl", "1 2 3 4", false},
      {"se", "", false},        {"se", "2", true},       {"se", "2 3", true},
      {"se", "2 3 4", false},   {"sw", "1", true},       {"sw", "1 2", false},
      {"r", "", false},         {"r", "tok", true},      {"r", "tok x", false},
      {"sr", "tok", true},      {"sn", "tok 1", true},   {"listen", "", true},
      {"listen", "g", true},    {"listen", "g h", false}, {"unlisten", "g", true},
      {"l", "abc", false},      {"l", "-1", false},      {"l", "1 x", false},
      {"l", "99999999999999999999", false},              {"sl", "1 +2", false},
  };
  for (const auto& c : cases) {
    auto m = Map(c.cmd, "k", c.arg);
    EXPECT_EQ(m.kind == RequestKind::kCommand, c.ok) << c.cmd << " '" << c.arg << "'";
  }
}

TEST(CommandMapper, EnqueueRepliesAcquired) {
  EXPECT_TRUE(Map("e", "k", "").enqueue);
  EXPECT_TRUE(Map("se", "k", "2").enqueue);
  EXPECT_FALSE(Map("l", "k", "1").enqueue);
}

TEST(CommandMapper, SignalKeepsPayloadVerbatim) {
  auto m = Map("signal", "a.b", "  spaced  out ");
  auto& p = std::get<core::Publish>(m.command);
  EXPECT_EQ(p.channel, "a.b");
  EXPECT_EQ(p.payload, "  spaced  out ");
}

TEST(CommandMapper, AuthTrimsArg) {
  auto m = Map("auth", "_", "  secret \t");
  EXPECT_EQ(m.kind, RequestKind::kAuth);
  EXPECT_EQ(m.auth_token, "secret");
}

TEST(CommandMapper, PingStatsIgnoreKeyAndArg) {
  EXPECT_TRUE(std::holds_alternative<core::Ping>(Map("ping", "", "").command));
  EXPECT_TRUE(std::holds_alternative<core::Stats>(Map("stats", "x y", "z").command));
}

TEST(CommandMapper, UnknownCommands) {
  for (const char* cmd : {"", "L", "lock", "ping ", "x"}) {
    EXPECT_EQ(Map(cmd, "k", "1").kind, RequestKind::kInvalid) << cmd;
  }
}

TEST(CommandMapper, PeerHelloCarriesTheShardIndex) {
  MappedRequest m = Map("peer", "3", "detached");
  ASSERT_EQ(m.kind, RequestKind::kPeer);
  EXPECT_TRUE(m.peer_detached);
  EXPECT_EQ(m.peer_shard, 3u);
  m = Map("peer", "0", "session");
  ASSERT_EQ(m.kind, RequestKind::kPeer);
  EXPECT_FALSE(m.peer_detached);
  EXPECT_EQ(m.peer_shard, 0u);
  for (const char* shard : {"", "_", "-1", "x", "65536"}) {
    EXPECT_EQ(Map("peer", shard, "session").kind, RequestKind::kInvalid) << shard;
  }
  EXPECT_EQ(Map("peer", "1", "other").kind, RequestKind::kInvalid);
}

}  // namespace
}  // namespace dflockd::native
