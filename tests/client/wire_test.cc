// Client-side protocol pieces without a server: framing, validation, reply parsing,
// sharding hash.
#include <gtest/gtest.h>

#include "dflockd/client/errors.h"
#include "dflockd/client/options.h"
#include "dflockd/client/sharding.h"
#include "wire.h"

namespace dflockd {
namespace {
using namespace std::chrono_literals;
using wire::Resource;

// Expected values come from Python's zlib.crc32 (the Python client's hash).
TEST(Sharding, Crc32MatchesZlib) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("my-key"), 0xd6e33ac1u);
  EXPECT_EQ(crc32("foo"), 0x8c736521u);
  EXPECT_EQ(crc32("lock:user:42"), 0x9c49b85fu);
  EXPECT_EQ(crc32(std::string_view("\xff\x00" "bin", 5)), 0x5920b36eu);
}

TEST(Sharding, StableHashShardIsCrcModN) {
  EXPECT_EQ(stable_hash_shard("123456789", 3), 2u);
  EXPECT_EQ(stable_hash_shard("invoices", 3), 1u);
  EXPECT_EQ(stable_hash_shard("a", 3), 0u);
  EXPECT_EQ(stable_hash_shard("a", 7), 4u);
  EXPECT_EQ(stable_hash_shard("lock:user:42", 7), 6u);
  EXPECT_EQ(stable_hash_shard("anything", 1), 0u);
}

TEST(Framing, RequestsAreThreeLines) {
  EXPECT_EQ(wire::Acquire(Resource::kLock, "k", 10s, 1, {}).bytes, "l\nk\n10\n");
  EXPECT_EQ(wire::Acquire(Resource::kLock, "k", 0s, 1, 5s).bytes, "l\nk\n0 5\n");
  EXPECT_EQ(wire::Acquire(Resource::kSemaphore, "k", 3s, 4, 7s).bytes, "sl\nk\n3 4 7\n");
  EXPECT_EQ(wire::Enqueue(Resource::kLock, "k", 1, {}).bytes, "e\nk\n\n");
  EXPECT_EQ(wire::Enqueue(Resource::kLock, "k", 1, 9s).bytes, "e\nk\n9\n");
  EXPECT_EQ(wire::Enqueue(Resource::kSemaphore, "k", 2, 9s).bytes, "se\nk\n2 9\n");
  EXPECT_EQ(wire::Wait(Resource::kSemaphore, "k", 4s).bytes, "sw\nk\n4\n");
  EXPECT_EQ(wire::Renew(Resource::kLock, "k", "t", 8s).bytes, "n\nk\nt 8\n");
  EXPECT_EQ(wire::Release(Resource::kSemaphore, "k", "t").bytes, "sr\nk\nt\n");
  EXPECT_EQ(wire::Listen("a.>", "").bytes, "listen\na.>\n\n");
  EXPECT_EQ(wire::Listen("a.*", "g").bytes, "listen\na.*\ng\n");
  EXPECT_EQ(wire::Emit("a.b", " two  words ").bytes, "signal\na.b\n two  words \n");
  EXPECT_EQ(wire::Stats().bytes, "stats\n_\n_\n");
  EXPECT_EQ(wire::Auth("secret").bytes, "auth\n_\nsecret\n");
  EXPECT_EQ(wire::Acquire(Resource::kLock, "k", 10s, 1, {}).server_wait, 10s);
}

TEST(Validation, NoInjectionThroughKeysOrPayloads) {
  EXPECT_THROW(wire::Acquire(Resource::kLock, "a\nr", 1s, 1, {}), InvalidArgument);
  EXPECT_THROW(wire::Acquire(Resource::kLock, "a b", 1s, 1, {}), InvalidArgument);
  EXPECT_THROW(wire::Acquire(Resource::kLock, "", 1s, 1, {}), InvalidArgument);
  EXPECT_THROW(wire::Acquire(Resource::kLock, std::string(257, 'k'), 1s, 1, {}), InvalidArgument);
  EXPECT_NO_THROW(wire::Acquire(Resource::kLock, std::string(256, 'k'), 1s, 1, {}));
  EXPECT_THROW(wire::Acquire(Resource::kLock, "k", -1s, 1, {}), InvalidArgument);
  EXPECT_THROW(wire::Acquire(Resource::kLock, "k", 1s, 1, 0s), InvalidArgument);
  EXPECT_THROW(wire::Acquire(Resource::kSemaphore, "k", 1s, 0, {}), InvalidArgument);
  EXPECT_THROW(wire::Acquire(Resource::kSemaphore, "k", 1s, 1048577, {}), InvalidArgument);
  EXPECT_THROW(wire::Release(Resource::kLock, "k", "tok\nen"), InvalidArgument);
  EXPECT_THROW(wire::Emit("a.*", "x"), InvalidArgument);
  EXPECT_THROW(wire::Emit("a", "  "), InvalidArgument);
  EXPECT_THROW(wire::Emit("a", "x\ny"), InvalidArgument);
  EXPECT_THROW(wire::Emit("a", std::string(65536, 'x')), InvalidArgument);
  EXPECT_THROW(wire::Listen("a b", ""), InvalidArgument);
  EXPECT_THROW(wire::Listen("a", "g\n"), InvalidArgument);
  EXPECT_THROW(wire::Auth("x\ny"), InvalidArgument);
}

TEST(Replies, GrantsAndErrors) {
  auto grant = wire::ParseGrant("ok 0000000000000010ffffffffffffffff 33", "k");
  EXPECT_EQ(grant.token, "0000000000000010ffffffffffffffff");
  EXPECT_EQ(grant.lease, 33);
  EXPECT_EQ(grant.fence(), 16u);
  EXPECT_THROW(wire::ParseGrant("timeout", "k"), TimeoutError);
  EXPECT_THROW(wire::ParseGrant("error_auth", "k"), AuthError);
  try {
    wire::ParseGrant("error_max_locks", "k");
    FAIL();
  } catch (const ServerError& e) {
    EXPECT_EQ(e.code(), "error_max_locks");
  }
  EXPECT_THROW(wire::ParseGrant("ok short 33", "k"), ServerError);
  EXPECT_EQ(wire::ParseOkNumber("ok 12", "renew"), 12);
  EXPECT_THROW(wire::ParseOkNumber("error", "renew"), ServerError);
  EXPECT_THROW(wire::ParseOk("error_draining", "x"), ServerError);
  auto queued = wire::ParseEnqueue("queued", "k");
  EXPECT_EQ(queued.status, EnqueueStatus::kQueued);
  auto acquired = wire::ParseEnqueue("acquired 0000000000000001aaaaaaaaaaaaaaaa 5", "k");
  EXPECT_EQ(acquired.status, EnqueueStatus::kAcquired);
  EXPECT_EQ(acquired.grant.lease, 5);
}

TEST(Replies, Pushes) {
  auto s = wire::ParsePush("sig a.b  two  words ");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->channel, "a.b");
  EXPECT_EQ(s->payload, " two  words ");
  EXPECT_FALSE(wire::ParsePush("ok 1"));
}

TEST(Replies, Stats) {
  auto s = wire::ParseStats(
      R"(ok {"connections":2,"locks":[{"key":"job","owner_conn_id":3,"lease_expires_in_s":25.4,"waiters":1}],)"
      R"("semaphores":[{"key":"pool","limit":3,"holders":2,"waiters":0}],"idle_locks":[{"key":"old","idle_s":12.7}],)"
      R"("idle_semaphores":[],"signal_channels":[{"pattern":"jobs.*","group":"workers","listeners":3}]})");
  EXPECT_EQ(s.connections, 2u);
  ASSERT_EQ(s.locks.size(), 1u);
  EXPECT_EQ(s.locks[0].key, "job");
  EXPECT_EQ(s.locks[0].owner_conn_id, 3u);
  EXPECT_DOUBLE_EQ(s.locks[0].lease_expires_in_s, 25.4);
  ASSERT_EQ(s.semaphores.size(), 1u);
  EXPECT_EQ(s.semaphores[0].holders, 2u);
  ASSERT_EQ(s.idle_locks.size(), 1u);
  ASSERT_EQ(s.signal_channels.size(), 1u);
  EXPECT_EQ(s.signal_channels[0].group, "workers");
  EXPECT_THROW(wire::ParseStats("ok {not json"), ServerError);
}

TEST(Replies, Topology) {
  EXPECT_TRUE(wire::ParseTopology("error").empty());  // a single server
  auto shards = wire::ParseTopology(
      R"(ok {"cluster":true,"self":1,"shards":["a:6388","b:7000","[::1]:9"]})");
  ASSERT_EQ(shards.size(), 3u);
  EXPECT_EQ(shards[1], (ServerAddress{"b", 7000}));
  EXPECT_EQ(shards[2], (ServerAddress{"::1", 9}));
  EXPECT_THROW(wire::ParseTopology("ok {\"cluster\":true}"), ServerError);
  EXPECT_THROW(wire::ParseTopology("error_auth"), AuthError);
}

TEST(Addresses, Parse) {
  EXPECT_EQ(ServerAddress::parse("h:1234"), (ServerAddress{"h", 1234}));
  EXPECT_EQ(ServerAddress::parse("h"), (ServerAddress{"h", 6388}));
  EXPECT_EQ(ServerAddress::parse("[::1]:7"), (ServerAddress{"::1", 7}));
  EXPECT_EQ(ServerAddress::parse("[::1]:7").to_string(), "[::1]:7");
  EXPECT_THROW(ServerAddress::parse("h:0"), InvalidArgument);
  EXPECT_THROW(ServerAddress::parse("h:x"), InvalidArgument);
  EXPECT_THROW(ServerAddress::parse(":1"), InvalidArgument);
}

}  // namespace
}  // namespace dflockd
