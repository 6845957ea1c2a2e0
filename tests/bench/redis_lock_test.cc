#include "redis_lock.h"

#include <gtest/gtest.h>

namespace dflockd::bench {
namespace {

TEST(RedisLock, AcquireIsSetNxPx) {
  EXPECT_EQ(RedisAcquire("k", "tok", 30000),
            "*6\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\ntok\r\n$2\r\nNX\r\n$2\r\nPX\r\n$5\r\n30000\r\n");
}

TEST(RedisLock, ReleaseIsCompareAndDelete) {
  std::string cmd = RedisRelease("k", "tok");
  EXPECT_EQ(cmd.rfind("*5\r\n$4\r\nEVAL\r\n", 0), 0u);
  EXPECT_NE(cmd.find("redis.call('get', KEYS[1]) == ARGV[1]"), std::string::npos);
  EXPECT_NE(cmd.find("redis.call('del', KEYS[1])"), std::string::npos);
  EXPECT_NE(cmd.find("\r\n$1\r\n1\r\n$1\r\nk\r\n$3\r\ntok\r\n"), std::string::npos);
}

TEST(RedisLock, ReplyFraming) {
  EXPECT_EQ(RespReplyLength("+OK\r\n"), 5u);
  EXPECT_EQ(RespReplyLength(":1\r\n:0\r\n"), 4u);
  EXPECT_EQ(RespReplyLength("$-1\r\n"), 5u);
  EXPECT_EQ(RespReplyLength("$3\r\nabc\r\n"), 9u);
  EXPECT_EQ(RespReplyLength("$3\r\nab"), 0u);
  EXPECT_EQ(RespReplyLength("+OK"), 0u);
  EXPECT_EQ(RespReplyLength("-ERR x\r\n"), 8u);
  EXPECT_EQ(RespReplyLength(""), 0u);
}

}  // namespace
}  // namespace dflockd::bench
