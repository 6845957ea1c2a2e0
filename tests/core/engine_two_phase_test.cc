// Two-phase acquisition (enqueue, then wait) in every order.
#include <gtest/gtest.h>

#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using core::ErrorCode;
using core::Granted;
using std::chrono::seconds;

using EngineTwoPhase = EngineFixture;

TEST_F(EngineTwoPhase, EnqueueOnFreeKeyAcquiresAndWaitReportsIt) {
  auto s = Open();
  auto e = Enqueue(s, "k", 10);
  ASSERT_TRUE(e->ok());
  core::Token token = e->as<Granted>().token;
  auto w = WaitFor(s, "k", 5);
  ASSERT_TRUE(w->ok());
  EXPECT_EQ(w->as<Granted>().token, token);
  EXPECT_EQ(w->as<Granted>().lease_s, 10);
  // Wait consumed the state.
  EXPECT_EQ(WaitFor(s, "k", 5)->error(), ErrorCode::kNotEnqueued);
}

TEST_F(EngineTwoPhase, GrantAfterWait) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  auto e = Enqueue(b, "k");
  ASSERT_TRUE(e->done());
  EXPECT_TRUE(std::holds_alternative<core::Queued>(e->result->value()));
  auto w = WaitFor(b, "k", 10);
  EXPECT_FALSE(w->done());
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  ASSERT_TRUE(w->ok());
  EXPECT_EQ(WaitFor(b, "k", 1)->error(), ErrorCode::kNotEnqueued);
}

TEST_F(EngineTwoPhase, GrantBeforeWaitRestartsLeaseOnWait) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  ASSERT_TRUE(Enqueue(b, "k", 10)->done());
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());  // granted to b's phase 1
  AdvanceSeconds(8);  // the lease runs from the grant...
  auto w = WaitFor(b, "k", 5);
  ASSERT_TRUE(w->ok());  // ...and Wait returns at once
  EXPECT_EQ(w->as<Granted>().lease_s, 10);
  AdvanceSeconds(8);  // 16 s after the grant, 8 s after Wait: still held
  EXPECT_EQ(Lock(a, "k", 0)->error(), ErrorCode::kTimeout);
  AdvanceSeconds(2.1);
  EXPECT_TRUE(Lock(a, "k", 0)->ok());
}

TEST_F(EngineTwoPhase, GrantExpiredBeforeWaitReportsLeaseExpired) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  Enqueue(b, "k", 2);
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  AdvanceSeconds(3);
  EXPECT_EQ(WaitFor(b, "k", 5)->error(), ErrorCode::kLeaseExpired);
  EXPECT_EQ(WaitFor(b, "k", 5)->error(), ErrorCode::kNotEnqueued);
  EXPECT_TRUE(Enqueue(b, "k")->ok());  // a fresh cycle works
}

TEST_F(EngineTwoPhase, WaitTimesOutAndRemovesWaiter) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  Enqueue(b, "k");
  auto w = WaitFor(b, "k", 2);
  AdvanceSeconds(2.1);
  EXPECT_EQ(w->error(), ErrorCode::kTimeout);
  EXPECT_EQ(engine->waiter_count(), 0u);
  EXPECT_EQ(WaitFor(b, "k", 1)->error(), ErrorCode::kNotEnqueued);
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  EXPECT_EQ(engine->held_count(), 0u);  // b was not granted after its timeout
}

TEST_F(EngineTwoPhase, WaitWithZeroTimeoutTriesOnce) {
  auto a = Open();
  auto b = Open();
  Lock(a, "k");
  Enqueue(b, "k");
  EXPECT_EQ(WaitFor(b, "k", 0)->error(), ErrorCode::kTimeout);
  EXPECT_EQ(engine->waiter_count(), 0u);
}

TEST_F(EngineTwoPhase, DoubleEnqueueRejected) {
  auto a = Open();
  auto b = Open();
  Lock(a, "k");
  Enqueue(b, "k");
  EXPECT_EQ(Enqueue(b, "k")->error(), ErrorCode::kAlreadyEnqueued);
  auto c = Open();
  auto e = Enqueue(c, "free");
  ASSERT_TRUE(e->ok());
  EXPECT_EQ(Enqueue(c, "free")->error(), ErrorCode::kAlreadyEnqueued);
}

TEST_F(EngineTwoPhase, WaitWithoutEnqueue) {
  auto s = Open();
  EXPECT_EQ(WaitFor(s, "k", 1)->error(), ErrorCode::kNotEnqueued);
  Enqueue(s, "k");
  EXPECT_EQ(WaitFor(Open(), "k", 1)->error(), ErrorCode::kNotEnqueued);  // other session
}

TEST_F(EngineTwoPhase, EnqueueIsFifoWithPlainWaiters) {
  auto a = Open();
  auto b = Open();
  auto c = Open();
  auto g = Lock(a, "k");
  auto lb = Lock(b, "k", 100);
  Enqueue(c, "k");
  auto wc = WaitFor(c, "k", 100);
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  ASSERT_TRUE(lb->ok());
  EXPECT_FALSE(wc->done());
  ASSERT_TRUE(Release(b, "k", lb->as<Granted>().token)->ok());
  EXPECT_TRUE(wc->ok());
}

TEST_F(EngineTwoPhase, ReleaseClearsPhaseOneState) {
  auto s = Open();
  auto e = Enqueue(s, "k");
  ASSERT_TRUE(Release(s, "k", e->as<Granted>().token)->ok());
  EXPECT_EQ(WaitFor(s, "k", 1)->error(), ErrorCode::kNotEnqueued);
  EXPECT_TRUE(Enqueue(s, "k")->ok());
}

TEST_F(EngineTwoPhase, DisconnectDropsQueuedState) {
  auto a = Open();
  auto b = Open();
  auto g = Lock(a, "k");
  Enqueue(b, "k");
  engine->CloseSession(b);
  EXPECT_EQ(engine->waiter_count(), 0u);
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  EXPECT_EQ(engine->held_count(), 0u);
}

TEST_F(EngineTwoPhase, SemaphoreTwoPhase) {
  auto s = Open();
  core::Enqueue e;
  e.ns = core::Namespace::kSemaphore;
  e.key = "pool";
  e.limit = 2;
  EXPECT_TRUE(Submit(s, e)->ok());
  e.limit = 3;
  EXPECT_EQ(Submit(Open(), e)->error(), ErrorCode::kLimitMismatch);
  core::Wait w;
  w.ns = core::Namespace::kSemaphore;
  w.key = "pool";
  w.timeout_s = 1;
  EXPECT_TRUE(Submit(s, w)->ok());
  w.ns = core::Namespace::kLock;
  EXPECT_EQ(Submit(s, w)->error(), ErrorCode::kNotEnqueued);
}

}  // namespace
}  // namespace dflockd::testing
