// Durable-mode hooks of the engine: the journal sees every observable change in
// order, a new leader restores holds as orphans (full lease, adoptable by renewal),
// Reset forgets everything without journaling, fences rebase and stop at a ceiling.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using core::ErrorCode;
using core::Granted;
using std::chrono::seconds;

/// Records journal calls as short strings: "held <fence> <lease>", "dropped <fence>",
/// "delay <fence>", "undelay <fence>".
class RecordingJournal final : public core::Journal {
 public:
  std::vector<std::string> log;
  void Held(const core::HoldRecord& h) override {
    log.push_back("held " + std::string(h.key) + " " + std::to_string(h.token.fence) + " " +
                  std::to_string(h.lease_s) + " limit=" + std::to_string(h.limit));
  }
  void Dropped(const core::Token& t) override { log.push_back("dropped " + std::to_string(t.fence)); }
  void DelayStarted(const core::DelayRecord& d) override {
    log.push_back("delay " + std::string(d.key) + " " + std::to_string(d.token.fence));
  }
  void DelayEnded(const core::Token& t) override { log.push_back("undelay " + std::to_string(t.fence)); }
};

class Durable : public EngineFixture {
 protected:
  void SetUp() override {
    Rebuild();
    engine->SetJournal(&journal);
  }
  void TearDown() override { engine->SetJournal(nullptr); }  // the journal dies first
  RecordingJournal journal;
};

core::Token TokenOf(const std::shared_ptr<Pending>& p) {
  return p->as<Granted>().token;
}

TEST_F(Durable, JournalSeesGrantRenewReleaseInOrder) {
  auto a = Open();
  auto g = Lock(a, "k", 0, 10);
  ASSERT_TRUE(g->ok());
  const auto f = std::to_string(g->as<Granted>().token.fence);
  ASSERT_TRUE(Renew(a, "k", g->as<Granted>().token, 20)->ok());
  ASSERT_TRUE(Release(a, "k", g->as<Granted>().token)->ok());
  EXPECT_EQ(journal.log, (std::vector<std::string>{"held k " + f + " 10 limit=1",
                                                   "held k " + f + " 20 limit=1", "dropped " + f}));
}

TEST_F(Durable, JournalSeesExpiryDisconnectAndLockDelay) {
  auto a = Open(), b = Open();
  core::Acquire acq;
  acq.key = "k";
  acq.lease_s = 2;
  acq.lock_delay_s = 3;
  auto g = Submit(a, acq);
  ASSERT_TRUE(g->ok());
  const auto f = std::to_string(g->as<Granted>().token.fence);
  auto w = Sem(b, "s", 2, 0, 30);
  ASSERT_TRUE(w->ok());
  const auto fs = std::to_string(w->as<Granted>().token.fence);
  Advance(seconds(2));  // the lock's lease ends: lock-delay starts
  Advance(seconds(3));  // and ends
  engine->CloseSession(b);  // auto-release of the semaphore slot
  EXPECT_EQ(journal.log,
            (std::vector<std::string>{"held k " + f + " 2 limit=1", "held s " + fs + " 30 limit=2",
                                      "dropped " + f, "delay k " + f, "undelay " + f,
                                      "dropped " + fs}));
}

TEST_F(Durable, TwoPhaseGrantAndWaitAreJournaled) {
  auto a = Open();
  auto e = Enqueue(a, "k", 10);
  ASSERT_TRUE(e->ok());
  const auto f = std::to_string(e->as<Granted>().token.fence);
  clock.Advance(seconds(4));
  ASSERT_TRUE(WaitFor(a, "k", 5)->ok());  // the lease restarts: journaled again
  EXPECT_EQ(journal.log, (std::vector<std::string>{"held k " + f + " 10 limit=1",
                                                   "held k " + f + " 10 limit=1"}));
}

TEST_F(Durable, RestoredHoldIsOrphanedWithAFullLeaseAndAdoptedByRenewal) {
  core::Token t{77, 5};
  core::HoldRecord h;
  h.key = "k";
  h.token = t;
  h.lease_s = 10;
  ASSERT_TRUE(engine->Restore(h).ok());
  EXPECT_TRUE(journal.log.empty());  // it is in the store already
  EXPECT_FALSE(engine->Restore(h).ok());  // the same token twice: refused
  auto b = Open();
  EXPECT_EQ(Lock(b, "k", 0)->error(), ErrorCode::kTimeout);  // held
  auto wait = Lock(b, "k", 60);
  Advance(seconds(9));
  EXPECT_FALSE(wait->done());
  auto a = Open();
  ASSERT_TRUE(Renew(a, "k", core::FormatToken(t), 10)->ok());  // adopted by a
  Advance(seconds(9));
  EXPECT_FALSE(wait->done());
  engine->CloseSession(a);  // adopted: its session's end releases it
  ASSERT_TRUE(wait->ok());
  EXPECT_GT(wait->as<Granted>().token.fence, 0u);
}

TEST_F(Durable, RestoredHoldExpiresWithoutAnOwner) {
  core::HoldRecord h;
  h.ns = core::Namespace::kSemaphore;
  h.key = "s";
  h.limit = 2;
  h.token = core::Token{5, 6};
  h.lease_s = 3;
  ASSERT_TRUE(engine->Restore(h).ok());
  h.limit = 3;
  h.token = core::Token{7, 8};
  EXPECT_EQ(engine->Restore(h).error(), ErrorCode::kLimitMismatch);
  auto b = Open();
  ASSERT_TRUE(Sem(b, "s", 2, 0)->ok());
  EXPECT_EQ(Sem(b, "s", 2, 0)->error(), ErrorCode::kTimeout);
  Advance(seconds(3));
  EXPECT_EQ(journal.log.back(), "dropped 5");
  EXPECT_TRUE(Sem(Open(), "s", 2, 0)->ok());
}

TEST_F(Durable, RestoredDelayWithholdsTheKey) {
  core::DelayRecord d;
  d.key = "k";
  d.token = core::Token{9, 9};
  ASSERT_TRUE(engine->RestoreDelay(d, 4).ok());
  auto a = Open();
  auto w = Lock(a, "k", 60);
  Advance(seconds(3));
  EXPECT_FALSE(w->done());
  Advance(seconds(1));
  ASSERT_TRUE(w->ok());
  EXPECT_EQ(journal.log.front(), "undelay 9");
}

TEST_F(Durable, ResetForgetsEverythingWithoutJournalingAndFailsWaiters) {
  auto a = Open(), b = Open();
  auto g = Lock(a, "k", 0, 30);
  ASSERT_TRUE(g->ok());
  auto w = Lock(b, "k", 60);
  ASSERT_TRUE(Enqueue(b, "k2", 30)->ok());
  journal.log.clear();
  engine->Reset(ErrorCode::kUnavailable);
  EXPECT_TRUE(journal.log.empty());
  ASSERT_TRUE(w->done());
  EXPECT_EQ(w->error(), ErrorCode::kUnavailable);
  EXPECT_EQ(engine->held_count(), 0u);
  EXPECT_EQ(engine->resource_count(), 0u);
  EXPECT_EQ(Release(a, "k", g->as<Granted>().token)->error(), ErrorCode::kNotHeld);
  EXPECT_EQ(WaitFor(b, "k2", 0)->error(), ErrorCode::kNotEnqueued);  // two-phase state gone
  auto again = Lock(b, "k", 0);  // the engine works on
  ASSERT_TRUE(again->ok());
  EXPECT_EQ(journal.log.size(), 1u);
}

TEST_F(Durable, FencesRebaseAndStopAtTheCeiling) {
  tokens.Rebase(5000, 5002);
  auto a = Open();
  auto g1 = Lock(a, "a", 0);
  auto g2 = Lock(a, "b", 0);
  ASSERT_TRUE(g1->ok());
  ASSERT_TRUE(g2->ok());
  EXPECT_EQ(g1->as<Granted>().token.fence, 5000u);
  EXPECT_EQ(g2->as<Granted>().token.fence, 5001u);
  EXPECT_EQ(Lock(a, "c", 0)->error(), ErrorCode::kFenceUnavailable);
  tokens.Rebase(100, 9000);  // a lower floor never moves fences back
  auto g3 = Lock(a, "c", 0);
  ASSERT_TRUE(g3->ok());
  EXPECT_EQ(g3->as<Granted>().token.fence, 5002u);
  EXPECT_EQ(TokenOf(g3).fence, 5002u);
}

}  // namespace
}  // namespace dflockd::testing
