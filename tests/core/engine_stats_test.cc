#include <gtest/gtest.h>

#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using EngineStats = EngineFixture;

TEST_F(EngineStats, SnapshotContent) {
  RecordingSink sink_a, sink_b;
  auto a = Open(&sink_a);
  auto b = Open(&sink_b);
  auto g = Lock(a, "job", 0, 30);
  Lock(b, "job", 100);
  Sem(a, "pool", 3);
  Sem(b, "pool", 3);
  auto idle = Lock(a, "old");
  Release(a, "old", idle->as<core::Granted>().token);
  auto one = Sem(a, "single", 1);  // a limit-1 semaphore is reported with locks
  Submit(a, core::Listen{"events.>", ""});
  Submit(b, core::Listen{"events.>", ""});
  Submit(b, core::Listen{"jobs.*", "workers"});
  AdvanceSeconds(4.6);

  core::StatsSnapshot s = engine->Snapshot();
  EXPECT_EQ(s.connections, 2u);
  ASSERT_EQ(s.locks.size(), 2u);
  EXPECT_EQ(s.locks[0].key, "job");
  EXPECT_EQ(s.locks[0].owner_session, a);
  EXPECT_NEAR(s.locks[0].lease_expires_in_s, 25.4, 0.01);
  EXPECT_EQ(s.locks[0].waiters, 1u);
  EXPECT_EQ(s.locks[1].key, "single");
  ASSERT_EQ(s.semaphores.size(), 1u);
  EXPECT_EQ(s.semaphores[0].key, "pool");
  EXPECT_EQ(s.semaphores[0].limit, 3u);
  EXPECT_EQ(s.semaphores[0].holders, 2u);
  EXPECT_EQ(s.semaphores[0].waiters, 0u);
  ASSERT_EQ(s.idle_locks.size(), 1u);
  EXPECT_EQ(s.idle_locks[0].key, "old");
  EXPECT_NEAR(s.idle_locks[0].idle_s, 4.6, 0.01);
  EXPECT_TRUE(s.idle_semaphores.empty());
  ASSERT_EQ(s.signal_channels.size(), 2u);
  EXPECT_EQ(s.signal_channels[0].pattern, "events.>");
  EXPECT_EQ(s.signal_channels[0].group, "");
  EXPECT_EQ(s.signal_channels[0].listeners, 2u);
  EXPECT_EQ(s.signal_channels[1].pattern, "jobs.*");
  EXPECT_EQ(s.signal_channels[1].group, "workers");
  EXPECT_EQ(s.signal_channels[1].listeners, 1u);
}

}  // namespace
}  // namespace dflockd::testing
