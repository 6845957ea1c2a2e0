// Locks and semaphores in the engine: FIFO, leases, limits, disconnects.
#include <gtest/gtest.h>

#include "core/token_source.h"
#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using core::ErrorCode;
using core::Granted;
using std::chrono::seconds;

using EngineLocks = EngineFixture;

TEST_F(EngineLocks, GrantsAtOnceWhenFree) {
  auto s = Open();
  auto p = Lock(s, "a", 10, 20);
  ASSERT_TRUE(p->ok());
  EXPECT_EQ(p->id, core::kNoRequest);
  EXPECT_EQ(p->as<Granted>().lease_s, 20);
  EXPECT_GT(p->as<Granted>().token.fence, 0u);
}

TEST_F(EngineLocks, DefaultLeaseWhenOmitted) {
  config.default_lease_s = 7;
  Rebuild();
  auto p = Lock(Open(), "a");
  ASSERT_TRUE(p->ok());
  EXPECT_EQ(p->as<Granted>().lease_s, 7);
}

TEST_F(EngineLocks, TryLockOnBusyKeyTimesOutAtOnce) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(Lock(a, "k")->ok());
  auto p = Lock(b, "k", 0);
  ASSERT_TRUE(p->done());
  EXPECT_EQ(p->error(), ErrorCode::kTimeout);
  EXPECT_EQ(engine->waiter_count(), 0u);
}

TEST_F(EngineLocks, FifoOrderWithManyWaiters) {
  auto holder = Open();
  auto first = Lock(holder, "k", 0);
  ASSERT_TRUE(first->ok());
  std::vector<core::SessionId> sessions;
  std::vector<std::shared_ptr<Pending>> waits;
  for (int i = 0; i < 50; ++i) {
    sessions.push_back(Open());
    waits.push_back(Lock(sessions.back(), "k", 100));
    ASSERT_FALSE(waits.back()->done());
  }
  core::Token token = first->as<Granted>().token;
  core::SessionId owner = holder;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(Release(owner, "k", token)->ok());
    for (int j = i + 1; j < 50; ++j) ASSERT_FALSE(waits[j]->done()) << "barging at " << j;
    ASSERT_TRUE(waits[i]->ok()) << "waiter " << i << " not granted in order";
    token = waits[i]->as<Granted>().token;
    owner = sessions[i];
  }
}

TEST_F(EngineLocks, NoBargingPastQueuedWaiters) {
  auto a = Open();
  auto b = Open();
  auto c = Open();
  auto ga = Lock(a, "k");
  auto wb = Lock(b, "k", 10);
  ASSERT_TRUE(Release(a, "k", ga->as<Granted>().token)->ok());
  ASSERT_TRUE(wb->ok());
  auto tc = Lock(c, "k", 0);
  EXPECT_EQ(tc->error(), ErrorCode::kTimeout);
}

TEST_F(EngineLocks, NotReentrant) {
  auto a = Open();
  ASSERT_TRUE(Lock(a, "k")->ok());
  auto again = Lock(a, "k", 5);
  EXPECT_FALSE(again->done());  // queues behind itself
  AdvanceSeconds(5);
  EXPECT_EQ(again->error(), ErrorCode::kTimeout);
}

TEST_F(EngineLocks, WaitTimesOutAndIsRemoved) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  auto w = Lock(b, "k", 3);
  AdvanceSeconds(2.9);
  EXPECT_FALSE(w->done());
  AdvanceSeconds(0.2);
  ASSERT_TRUE(w->done());
  EXPECT_EQ(w->error(), ErrorCode::kTimeout);
  EXPECT_EQ(engine->waiter_count(), 0u);
  // The timed-out waiter is never granted later.
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  EXPECT_EQ(engine->held_count(), 0u);
}

TEST_F(EngineLocks, LeaseExpiryHandsOverToNextWaiter) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k", 0, 5);
  auto w = Lock(b, "k", 60, 9);
  AdvanceSeconds(4.9);
  EXPECT_FALSE(w->done());
  AdvanceSeconds(0.2);
  ASSERT_TRUE(w->ok());
  EXPECT_EQ(w->as<Granted>().lease_s, 9);
  EXPECT_EQ(engine->counters().expiries, 1u);
  // The expired token is worthless now.
  EXPECT_EQ(Release(a, "k", g->as<Granted>().token)->error(), ErrorCode::kNotHeld);
  EXPECT_EQ(Renew(a, "k", g->as<Granted>().token)->error(), ErrorCode::kNotHeld);
}

TEST_F(EngineLocks, ExpiredHolderEvictedOnTheSpotBeforeAcquire) {
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 1)->ok());
  clock.Advance(seconds(2));  // no Tick: the sweep has not run yet
  EXPECT_TRUE(Lock(b, "k", 0)->ok());
}

TEST_F(EngineLocks, ReadsTheClockOncePerCommand) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k", 0, 10);  // a new key
  ASSERT_TRUE(g->ok());
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());  // the key goes idle
  clock.reads = 0;
  auto g2 = Lock(b, "k", 0, 10);  // an idle key: expiry check, lease deadline, idleness
  ASSERT_TRUE(g2->ok());
  EXPECT_EQ(clock.reads, 1);
  clock.reads = 0;
  ASSERT_TRUE(Release(b, "k", g2->as<Granted>().token)->ok());
  EXPECT_LE(clock.reads, 1);
}

TEST_F(EngineLocks, CommandSubmittedFromACompletionReadsItsOwnInstant) {
  auto a = Open();
  auto b = Open();
  auto c = Open();
  auto g = Lock(a, "k", 0, 30);
  std::shared_ptr<Pending> nested;
  // b's grant comes inside a's release; its completion, a moment later, takes "m".
  engine->Submit(b, core::Acquire{.key = "k", .timeout_s = 60}, [&](core::Result<core::Reply> r) {
    ASSERT_TRUE(r.ok());
    clock.Advance(seconds(5));
    nested = Lock(b, "m", 0, 10);
  });
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  ASSERT_TRUE(nested && nested->ok());
  // "m"'s lease runs from the nested command's instant (+5 s), not the release's.
  clock.Advance(seconds(7));
  engine->Tick();
  EXPECT_EQ(Lock(c, "m", 0)->error(), ErrorCode::kTimeout);
  clock.Advance(seconds(4));
  engine->Tick();
  EXPECT_TRUE(Lock(c, "m", 0)->ok());
}

TEST_F(EngineLocks, RenewExtendsLease) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k", 0, 10);
  auto w = Lock(b, "k", 100);
  AdvanceSeconds(8);
  auto r = Renew(a, "k", g->as<Granted>().token, 10);
  ASSERT_TRUE(r->ok());
  EXPECT_EQ(r->as<core::Renewed>().lease_s, 10);
  AdvanceSeconds(9);
  EXPECT_FALSE(w->done());
  AdvanceSeconds(1.1);
  EXPECT_TRUE(w->ok());
}

TEST_F(EngineLocks, RenewWithoutLeaseUsesDefault) {
  config.default_lease_s = 33;
  Rebuild();
  auto a = Open();
  auto g = Lock(a, "k", 0, 5);
  auto r = Renew(a, "k", g->as<Granted>().token);
  ASSERT_TRUE(r->ok());
  EXPECT_EQ(r->as<core::Renewed>().lease_s, 33);
}

TEST_F(EngineLocks, RenewOfExpiredLeaseFailsAndGrantsNextWaiter) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k", 0, 2);
  auto w = Lock(b, "k", 100);
  clock.Advance(seconds(3));  // expired, sweep not yet run
  EXPECT_FALSE(w->done());
  EXPECT_EQ(Renew(a, "k", g->as<Granted>().token)->error(), ErrorCode::kNotHeld);
  EXPECT_TRUE(w->ok());
}

TEST_F(EngineLocks, ReleaseErrors) {
  auto a = Open();
  auto g = Lock(a, "k");
  core::Token token = g->as<Granted>().token;
  EXPECT_EQ(Release(a, "nope", token)->error(), ErrorCode::kNotHeld);
  EXPECT_EQ(Release(a, "k", std::string(32, '0'))->error(), ErrorCode::kNotHeld);
  EXPECT_EQ(Release(a, "k", "not-a-token")->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Release(a, "k", "")->error(), ErrorCode::kInvalid);
  // Wrong namespace: the semaphore `k` does not exist.
  EXPECT_EQ(Release(a, "k", token, core::Namespace::kSemaphore)->error(), ErrorCode::kNotHeld);
  EXPECT_TRUE(Release(a, "k", token)->ok());
  EXPECT_EQ(Release(a, "k", token)->error(), ErrorCode::kNotHeld);
}

TEST_F(EngineLocks, AnySessionMayReleaseWithTheToken) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  EXPECT_TRUE(Release(b, "k", g->as<Granted>().token)->ok());
}

TEST_F(EngineLocks, LocksAndSemaphoresAreSeparateNamespaces) {
  auto a = Open();
  ASSERT_TRUE(Lock(a, "foo")->ok());
  EXPECT_TRUE(Sem(a, "foo", 1)->ok());
  EXPECT_EQ(engine->resource_count(), 2u);
}

TEST_F(EngineLocks, SemaphoreLimitHonoured) {
  auto s = Open();
  std::vector<std::shared_ptr<Pending>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(Sem(s, "pool", 3));
    ASSERT_TRUE(held.back()->ok());
  }
  EXPECT_EQ(Sem(s, "pool", 3, 0)->error(), ErrorCode::kTimeout);
  auto w = Sem(s, "pool", 3, 10);
  EXPECT_FALSE(w->done());
  ASSERT_TRUE(Release(s, "pool", held[1]->as<Granted>().token, core::Namespace::kSemaphore)->ok());
  EXPECT_TRUE(w->ok());
}

TEST_F(EngineLocks, SemaphoreLimitMismatchUntilGarbageCollected) {
  config.gc_interval = seconds(5);
  config.gc_max_idle = seconds(60);
  Rebuild();
  auto s = Open();
  auto g = Sem(s, "pool", 3);
  ASSERT_TRUE(g->ok());
  EXPECT_EQ(Sem(s, "pool", 4)->error(), ErrorCode::kLimitMismatch);
  ASSERT_TRUE(Release(s, "pool", g->as<Granted>().token, core::Namespace::kSemaphore)->ok());
  AdvanceSeconds(30);
  EXPECT_EQ(Sem(s, "pool", 4)->error(), ErrorCode::kLimitMismatch);  // idle, not yet collected
  AdvanceSeconds(31);
  AdvanceSeconds(5);  // next GC pass
  EXPECT_EQ(engine->resource_count(), 0u);
  EXPECT_TRUE(Sem(s, "pool", 4)->ok());
}

TEST_F(EngineLocks, FailedReleaseDoesNotRefreshIdleness) {
  config.gc_interval = seconds(1);
  config.gc_max_idle = seconds(10);
  Rebuild();
  auto s = Open();
  auto g = Lock(s, "k");
  ASSERT_TRUE(Release(s, "k", g->as<Granted>().token)->ok());
  AdvanceSeconds(8);
  EXPECT_EQ(Release(s, "k", g->as<Granted>().token)->error(), ErrorCode::kNotHeld);
  AdvanceSeconds(3);
  EXPECT_EQ(engine->resource_count(), 0u);
}

TEST_F(EngineLocks, MaxLocksCountsIdleKeys) {
  config.max_locks = 2;
  Rebuild();
  auto s = Open();
  auto a = Lock(s, "a");
  ASSERT_TRUE(Release(s, "a", a->as<Granted>().token)->ok());  // "a" is idle but counted
  ASSERT_TRUE(Sem(s, "b", 2)->ok());
  EXPECT_EQ(Lock(s, "c")->error(), ErrorCode::kMaxLocks);
  Enqueue(s, "c");
  EXPECT_EQ(Enqueue(s, "d")->error(), ErrorCode::kMaxLocks);
  EXPECT_TRUE(Lock(s, "a")->ok());  // existing keys still work
}

TEST_F(EngineLocks, MaxWaitersPerKey) {
  config.max_waiters = 2;
  Rebuild();
  auto s = Open();
  ASSERT_TRUE(Lock(s, "k")->ok());
  EXPECT_FALSE(Lock(Open(), "k", 10)->done());
  EXPECT_FALSE(Lock(Open(), "k", 10)->done());
  EXPECT_EQ(Lock(Open(), "k", 10)->error(), ErrorCode::kMaxWaiters);
  EXPECT_EQ(Enqueue(Open(), "k")->error(), ErrorCode::kMaxWaiters);
  EXPECT_TRUE(Lock(Open(), "other", 10)->ok());  // other keys unaffected
}

TEST_F(EngineLocks, DisconnectReleasesHoldsAndRemovesWaiters) {
  auto a = Open();
  auto b = Open();
  auto c = Open();
  ASSERT_TRUE(Lock(a, "k")->ok());
  auto wb = Lock(b, "k", 100);
  auto wc = Lock(c, "k", 100);
  engine->CloseSession(b);  // waiter b leaves
  EXPECT_EQ(wb->error(), ErrorCode::kCancelled);
  engine->CloseSession(a);  // holder leaves: c is next, b must not be granted
  EXPECT_TRUE(wc->ok());
  EXPECT_EQ(engine->held_count(), 1u);
}

TEST_F(EngineLocks, DisconnectWithoutAutoReleaseKeepsHoldUntilLeaseExpiry) {
  config.auto_release_on_disconnect = false;
  Rebuild();
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k", 0, 10);
  auto w = Lock(b, "k", 100);
  engine->CloseSession(a);
  EXPECT_FALSE(w->done());
  AdvanceSeconds(10.1);
  EXPECT_TRUE(w->ok());
}

TEST_F(EngineLocks, DetachedHoldCanStillBeReleasedByToken) {
  config.auto_release_on_disconnect = false;
  Rebuild();
  auto a = Open();
  auto g = Lock(a, "k", 0, 100);
  engine->CloseSession(a);
  auto b = Open();
  EXPECT_TRUE(Release(b, "k", g->as<Granted>().token)->ok());
  EXPECT_TRUE(Lock(b, "k")->ok());
}

TEST_F(EngineLocks, CancelRemovesWaiterAndItIsNeverGranted) {
  auto a = Open();
  auto g = Lock(a, "k");
  auto w = Lock(0, "k", 100);  // sessionless caller, like a unary RPC
  ASSERT_NE(w->id, core::kNoRequest);
  engine->Cancel(w->id);
  EXPECT_EQ(w->error(), ErrorCode::kCancelled);
  engine->Cancel(w->id);  // stale handle: no effect, no second completion
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  EXPECT_EQ(engine->held_count(), 0u);
}

TEST_F(EngineLocks, FencesStrictlyIncrease) {
  auto s = Open();
  std::uint64_t last = 0;
  for (int i = 0; i < 100; ++i) {
    std::string key = "k";
    key += std::to_string(i % 7);  // (operator+ here trips a GCC 12 -Wrestrict false positive)
    auto g = Lock(s, key, 0, 1);
    if (!g->ok()) {
      AdvanceSeconds(1.1);
      g = Lock(s, key, 0, 1);
    }
    ASSERT_TRUE(g->ok());
    EXPECT_GT(g->as<Granted>().token.fence, last);
    last = g->as<Granted>().token.fence;
  }
}

TEST_F(EngineLocks, InvalidArgumentsRejected) {
  auto s = Open();
  EXPECT_EQ(Lock(s, "")->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Lock(s, "a b")->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Lock(s, std::string(257, 'x'))->error(), ErrorCode::kInvalid);
  EXPECT_TRUE(Lock(s, std::string(256, 'x'))->ok());
  EXPECT_EQ(Lock(s, "a", -1)->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Lock(s, "a", 9223372037)->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Lock(s, "a", 0, 0)->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Sem(s, "p", 0)->error(), ErrorCode::kInvalid);
  EXPECT_EQ(Sem(s, "p", 1048577)->error(), ErrorCode::kInvalid);
  EXPECT_TRUE(Sem(s, "p", 1048576)->ok());
}

TEST_F(EngineLocks, HugeLeaseDoesNotOverflow) {
  auto s = Open();
  auto g = Lock(s, "k", 0, 9223372036);
  ASSERT_TRUE(g->ok());
  AdvanceSeconds(1000);
  EXPECT_EQ(Lock(Open(), "k", 0)->error(), ErrorCode::kTimeout);  // still held
}

TEST_F(EngineLocks, DrainCancelsWaitersAndRefusesCommands) {
  auto a = Open();
  ASSERT_TRUE(Lock(a, "k")->ok());
  auto w = Lock(Open(), "k", 100);
  engine->BeginDrain();
  EXPECT_EQ(w->error(), ErrorCode::kDraining);
  EXPECT_EQ(Lock(a, "z")->error(), ErrorCode::kDraining);
  EXPECT_EQ(Submit(a, core::Ping{})->error(), ErrorCode::kDraining);
}

TEST_F(EngineLocks, ManyKeysDoNotSlowTicks) {
  config.max_locks = 200000;
  Rebuild();
  auto s = Open();
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(Lock(s, "key" + std::to_string(i), 0, 3600)->ok());
  // Only due deadlines are visited: a tick with nothing due is O(1).
  EXPECT_GT(engine->NextDeadline(), clock.Now());
  AdvanceSeconds(1);
  EXPECT_EQ(engine->held_count(), 100000u);
}

}  // namespace
}  // namespace dflockd::testing
