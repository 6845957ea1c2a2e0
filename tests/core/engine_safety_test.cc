// Lock-delay, restart grace, fences that are never issued unpersisted, and the
// maximum lease, with the fake clock.
#include <gtest/gtest.h>

#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using core::ErrorCode;
using core::Granted;
using std::chrono::milliseconds;
using std::chrono::seconds;

class LockDelay : public EngineFixture {
 protected:
  void SetUp() override {
    config.lock_delay_s = 5;
    Rebuild();
  }

  std::shared_ptr<Pending> LockWithDelay(core::SessionId s, const std::string& key,
                                         std::int64_t timeout, std::int64_t lease,
                                         std::optional<std::int64_t> delay) {
    core::Acquire a;
    a.key = key;
    a.timeout_s = timeout;
    a.lease_s = lease;
    a.lock_delay_s = delay;
    return Submit(s, a);
  }
};

TEST_F(LockDelay, ExpiryWithholdsTheKeyThenGrantsInOrder) {
  auto a = Open(), b = Open(), c = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 2)->ok());
  auto wb = Lock(b, "k", 60);
  auto wc = Lock(c, "k", 60);
  Advance(seconds(2));  // the lease ends: the key is withheld for 5 s
  EXPECT_FALSE(wb->done());
  EXPECT_EQ(engine->keys_in_delay(), 1u);
  EXPECT_EQ(engine->counters().lock_delays, 1u);
  Advance(milliseconds(4999));
  EXPECT_FALSE(wb->done());
  EXPECT_FALSE(Lock(Open(), "k", 0)->ok());  // a try-lock sees the key busy
  Advance(milliseconds(1));
  ASSERT_TRUE(wb->ok());  // the first waiter, at the moment the delay ends
  EXPECT_FALSE(wc->done());
  EXPECT_EQ(engine->keys_in_delay(), 0u);
}

TEST_F(LockDelay, DisconnectWithAutoReleaseStartsTheDelay) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 30)->ok());
  auto wb = Lock(b, "k", 60);
  engine->CloseSession(a);
  EXPECT_FALSE(wb->done());
  Advance(seconds(5));
  EXPECT_TRUE(wb->ok());
}

TEST_F(LockDelay, ACleanReleaseNeverDelays) {
  auto a = Open(), b = Open();
  auto ga = Lock(a, "k", 0, 30);
  auto wb = Lock(b, "k", 60);
  ASSERT_TRUE(Release(a, "k", ga->as<Granted>().token)->ok());
  EXPECT_TRUE(wb->ok());
  EXPECT_EQ(engine->counters().lock_delays, 0u);
}

TEST_F(LockDelay, AWaiterTimesOutDuringTheDelay) {
  auto a = Open(), b = Open(), c = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 1)->ok());
  auto wb = Lock(b, "k", 3);  // gives up at t=3, during the delay (t=1..6)
  auto wc = Lock(c, "k", 60);
  Advance(seconds(1));
  Advance(seconds(2));
  ASSERT_TRUE(wb->done());
  EXPECT_EQ(wb->error(), ErrorCode::kTimeout);
  EXPECT_FALSE(wc->done());
  Advance(seconds(3));
  EXPECT_TRUE(wc->ok());
}

TEST_F(LockDelay, GarbageCollectionKeepsAKeyInDelay) {
  config.gc_interval = seconds(1);
  config.gc_max_idle = seconds(0);
  Rebuild();
  auto a = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 1)->ok());
  Advance(seconds(1));  // expired, delayed until t=6
  Advance(seconds(2));
  EXPECT_EQ(engine->resource_count(), 1u);
  auto stats = engine->Snapshot();
  ASSERT_EQ(stats.locks.size(), 1u);
  EXPECT_NEAR(stats.locks[0].lock_delay_remaining_s, 3.0, 0.01);
  EXPECT_EQ(stats.keys_in_lock_delay, 1u);
  Advance(seconds(3));  // the delay ends; now idle
  Advance(seconds(1));  // and collected
  EXPECT_EQ(engine->resource_count(), 0u);
}

TEST_F(LockDelay, OnASemaphoreOnlyTheFreedSlotIsWithheld) {
  auto a = Open(), b = Open(), c = Open();
  ASSERT_TRUE(Sem(a, "s", 2, 0, 2)->ok());
  ASSERT_TRUE(Sem(b, "s", 2, 0, 60)->ok());
  auto wc = Sem(c, "s", 2, 60);
  Advance(seconds(2));  // a's slot expires and is withheld; b still holds the other
  EXPECT_FALSE(wc->done());
  auto stats = engine->Snapshot();
  ASSERT_EQ(stats.semaphores.size(), 1u);
  EXPECT_EQ(stats.semaphores[0].delayed, 1u);
  Advance(seconds(5));
  EXPECT_TRUE(wc->ok());
}

TEST_F(LockDelay, PerAcquireOverride) {
  auto a = Open(), b = Open(), c = Open();
  ASSERT_TRUE(LockWithDelay(a, "off", 0, 1, 0)->ok());  // 0 turns it off for this hold
  auto w = Lock(b, "off", 60);
  Advance(seconds(1));
  EXPECT_TRUE(w->ok());
  ASSERT_TRUE(LockWithDelay(c, "long", 0, 1, 10)->ok());
  auto w2 = Lock(b, "long", 60);
  Advance(seconds(1));
  Advance(seconds(9));
  EXPECT_FALSE(w2->done());
  Advance(seconds(1));
  EXPECT_TRUE(w2->ok());
}

TEST_F(LockDelay, TheWaitersLeaseAndDelayCarryOverToItsGrant) {
  auto a = Open(), b = Open(), c = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 30)->ok());
  auto wb = LockWithDelay(b, "k", 60, 1, 0);  // b's own hold: no delay
  auto wc = Lock(c, "k", 60);
  engine->CloseSession(a);
  Advance(seconds(5));
  ASSERT_TRUE(wb->ok());
  Advance(seconds(1));  // b's lease ends: no delay for it, c is granted at once
  EXPECT_TRUE(wc->ok());
}

TEST_F(LockDelay, LazyExpiryCountsTheDelayFromTheExpiry) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 1)->ok());
  clock.Advance(seconds(3));  // no Tick: the expiry is found by the next command
  EXPECT_FALSE(Lock(b, "k", 0)->ok());  // withheld until t=6, not t=8
  clock.Advance(seconds(3));
  engine->Tick();
  EXPECT_TRUE(Lock(b, "k", 0)->ok());
}

TEST_F(EngineFixture, NoLockDelayByDefault) {
  auto a = Open(), b = Open();
  ASSERT_TRUE(Lock(a, "k", 0, 1)->ok());
  auto wb = Lock(b, "k", 60);
  Advance(seconds(1));
  EXPECT_TRUE(wb->ok());
}

class RestartGrace : public EngineFixture {
 protected:
  void SetUp() override {
    config.restart_grace = seconds(10);
    Rebuild();
  }
};

TEST_F(RestartGrace, NothingIsGrantedUntilTheGraceEnds) {
  auto a = Open(), b = Open();
  EXPECT_TRUE(engine->in_restart_grace());
  auto tryLock = Lock(a, "k", 0);
  ASSERT_TRUE(tryLock->done());
  EXPECT_EQ(tryLock->error(), ErrorCode::kTimeout);
  auto wa = Lock(a, "k", 60);
  auto wb = Lock(b, "k", 60);
  auto ws = Sem(b, "s", 3, 60);
  EXPECT_LE(engine->NextDeadline(), clock.Now() + seconds(10));  // (GC may come first)
  EXPECT_NEAR(engine->Snapshot().restart_grace_remaining_s, 10.0, 0.01);
  Advance(seconds(9));
  EXPECT_FALSE(wa->done());
  Advance(seconds(1));
  EXPECT_TRUE(wa->ok());  // FIFO order kept
  EXPECT_FALSE(wb->done());
  EXPECT_TRUE(ws->ok());
  EXPECT_FALSE(engine->in_restart_grace());
  EXPECT_EQ(engine->Snapshot().restart_grace_remaining_s, 0.0);
}

TEST_F(RestartGrace, WaitsThatEndDuringTheGraceTimeOut) {
  auto a = Open();
  auto w = Lock(a, "k", 3);
  Advance(seconds(3));
  ASSERT_TRUE(w->done());
  EXPECT_EQ(w->error(), ErrorCode::kTimeout);
}

class FailingStore final : public core::FenceStore {
 public:
  bool Reserve(std::uint64_t limit) override {
    if (fail) return false;
    reserved = limit;
    return true;
  }
  bool fail = false;
  std::uint64_t reserved = 0;
};

class FenceOutage : public EngineFixture {
 protected:
  void SetUp() override {
    engine.reset();
    persistent = std::make_unique<core::TokenSource>(1000, &store);
    engine = std::make_unique<core::Engine>(config, clock, *persistent);
  }
  FailingStore store;
  std::unique_ptr<core::TokenSource> persistent;
};

TEST_F(FenceOutage, GrantsAreRefusedNeverIssuedUnpersisted) {
  store.fail = true;
  auto a = Open();
  auto p = Lock(a, "k", 0);
  ASSERT_TRUE(p->done());
  EXPECT_EQ(p->error(), ErrorCode::kFenceUnavailable);
  EXPECT_EQ(engine->counters().fence_refusals, 1u);
  EXPECT_FALSE(engine->fences_available());
  EXPECT_TRUE(engine->Snapshot().fences_unavailable);
  core::Enqueue e;
  e.key = "e";
  auto pe = Submit(a, e);
  EXPECT_EQ(pe->error(), ErrorCode::kFenceUnavailable);
  EXPECT_EQ(engine->held_count(), 0u);
  EXPECT_EQ(engine->resource_count(), 2u);  // both idle, collectable
}

TEST_F(FenceOutage, WaitersKeepTheirPlacesAndAreGrantedOnRecovery) {
  auto a = Open(), b = Open(), c = Open();
  auto ga = Lock(a, "k", 0, 30);
  ASSERT_TRUE(ga->ok());
  const std::uint64_t first = ga->as<Granted>().token.fence;
  // Use up the reserved block so the next grant needs a new reservation.
  for (std::uint64_t i = 1; i < core::TokenSource::kReserveBlock; ++i) persistent->Next();
  auto wb = Lock(b, "k", 60);
  auto wc = Lock(c, "k", 60);
  store.fail = true;
  ASSERT_TRUE(Release(a, "k", ga->as<Granted>().token)->ok());
  EXPECT_FALSE(wb->done());  // not granted: its fence could not be persisted
  EXPECT_FALSE(engine->fences_available());
  EXPECT_LE(engine->NextDeadline(), clock.Now() + seconds(1));
  Advance(seconds(1));  // the retry still fails
  EXPECT_FALSE(wb->done());
  store.fail = false;
  Advance(seconds(1));  // the retry succeeds: the first waiter gets the lock
  ASSERT_TRUE(wb->ok());
  EXPECT_FALSE(wc->done());
  EXPECT_TRUE(engine->fences_available());
  EXPECT_EQ(wb->as<Granted>().token.fence, first + core::TokenSource::kReserveBlock);
  EXPECT_GT(store.reserved, wb->as<Granted>().token.fence);
}

TEST_F(EngineFixture, MaxLeaseRejectsLongerLeasesAndDelays) {
  config.max_lease_s = 60;
  Rebuild();
  auto a = Open();
  EXPECT_EQ(Lock(a, "k", 0, 61)->error(), ErrorCode::kInvalid);
  auto ok = Lock(a, "k", 0, 60);
  ASSERT_TRUE(ok->ok());
  EXPECT_EQ(Renew(a, "k", ok->as<Granted>().token, 61)->error(), ErrorCode::kInvalid);
  EXPECT_TRUE(Renew(a, "k", ok->as<Granted>().token, 60)->ok());
  core::Acquire long_delay;
  long_delay.key = "d";
  long_delay.lock_delay_s = 61;
  EXPECT_EQ(Submit(a, long_delay)->error(), ErrorCode::kInvalid);
  core::Acquire negative;
  negative.key = "d";
  negative.lock_delay_s = -1;
  EXPECT_EQ(Submit(a, negative)->error(), ErrorCode::kInvalid);
}

}  // namespace
}  // namespace dflockd::testing
