// Signals in the engine: delivery rules, queue groups, slow consumers.
#include <gtest/gtest.h>

#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using core::ErrorCode;

class EngineSignals : public EngineFixture {
 protected:
  std::shared_ptr<Pending> Listen(core::SessionId s, const std::string& pattern,
                                  const std::string& group = "") {
    return Submit(s, core::Listen{pattern, group});
  }
  std::shared_ptr<Pending> Unlisten(core::SessionId s, const std::string& pattern,
                                    const std::string& group = "") {
    return Submit(s, core::Unlisten{pattern, group});
  }
  std::uint64_t Publish(const std::string& channel, const std::string& payload = "x") {
    auto p = Submit(Open(), core::Publish{channel, payload});
    EXPECT_TRUE(p->ok());
    return p->ok() ? p->as<core::Published>().deliveries : 0;
  }
};

TEST_F(EngineSignals, OneCopyPerSessionHoweverManyPatternsMatch) {
  RecordingSink sink;
  auto s = Open(&sink);
  ASSERT_TRUE(Listen(s, "a.b")->ok());
  ASSERT_TRUE(Listen(s, "a.*")->ok());
  ASSERT_TRUE(Listen(s, "a.>")->ok());
  EXPECT_EQ(Publish("a.b", "hello"), 1u);
  ASSERT_EQ(sink.pushes.size(), 1u);
  EXPECT_EQ(sink.pushes[0], std::make_pair(std::string("a.b"), std::string("hello")));
}

TEST_F(EngineSignals, ListenIsIdempotentAndUnlistenAlwaysOk) {
  RecordingSink sink;
  auto s = Open(&sink);
  EXPECT_TRUE(Listen(s, "x")->ok());
  EXPECT_TRUE(Listen(s, "x")->ok());
  EXPECT_EQ(Publish("x"), 1u);
  EXPECT_TRUE(Unlisten(s, "x")->ok());
  EXPECT_TRUE(Unlisten(s, "x")->ok());
  EXPECT_TRUE(Unlisten(s, "never")->ok());
  EXPECT_EQ(Publish("x"), 0u);
  EXPECT_EQ(Unlisten(s, "fo*")->error(), ErrorCode::kInvalid);
}

TEST_F(EngineSignals, BadPatternsChannelsAndPayloads) {
  auto s = Open();
  for (const char* bad : {"fo*", "a>", "a.>.b", "", "a..b", ".a", "a.", "a b"}) {
    EXPECT_EQ(Listen(s, bad)->error(), ErrorCode::kInvalid) << bad;
  }
  auto pub = [&](std::string ch, std::string payload) {
    return Submit(s, core::Publish{std::move(ch), std::move(payload)});
  };
  EXPECT_EQ(pub("a.*", "x")->error(), ErrorCode::kInvalid);
  EXPECT_EQ(pub("a.>", "x")->error(), ErrorCode::kInvalid);
  EXPECT_EQ(pub("a", "")->error(), ErrorCode::kInvalid);
  EXPECT_EQ(pub("a", "  \t ")->error(), ErrorCode::kInvalid);
  EXPECT_TRUE(pub("a", " x ")->ok());
  // The push frame `sig a <payload>\n` must fit in 64 KiB.
  EXPECT_TRUE(pub("a", std::string(65536 - 7, 'p'))->ok());
  EXPECT_EQ(pub("a", std::string(65536 - 6, 'p'))->error(), ErrorCode::kInvalid);
}

TEST_F(EngineSignals, PublisherReceivesOwnSignalWhenListening) {
  RecordingSink sink;
  auto s = Open(&sink);
  Listen(s, "me");
  auto p = Submit(s, core::Publish{"me", "hi"});
  EXPECT_EQ(p->as<core::Published>().deliveries, 1u);
  EXPECT_EQ(sink.pushes.size(), 1u);
}

TEST_F(EngineSignals, QueueGroupRoundRobinInJoinOrder) {
  RecordingSink m1, m2, m3, plain;
  auto s1 = Open(&m1);
  auto s2 = Open(&m2);
  auto s3 = Open(&m3);
  auto sp = Open(&plain);
  Listen(s1, "jobs.*", "workers");
  Listen(s2, "jobs.*", "workers");
  Listen(s3, "jobs.*", "workers");
  Listen(sp, "jobs.>");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Publish("jobs.x", std::to_string(i)), 2u);
  ASSERT_EQ(m1.pushes.size(), 2u);
  ASSERT_EQ(m2.pushes.size(), 2u);
  ASSERT_EQ(m3.pushes.size(), 2u);
  EXPECT_EQ(m1.pushes[0].second, "0");
  EXPECT_EQ(m2.pushes[0].second, "1");
  EXPECT_EQ(m3.pushes[0].second, "2");
  EXPECT_EQ(m1.pushes[1].second, "3");
  EXPECT_EQ(plain.pushes.size(), 6u);  // plain subscriptions are independent of groups
}

TEST_F(EngineSignals, GroupsAreIndependent) {
  RecordingSink a, b;
  auto sa = Open(&a);
  auto sb = Open(&b);
  Listen(sa, "e", "g1");
  Listen(sb, "e", "g2");
  Listen(sa, "e.>", "g1");  // different pattern: a group of its own
  EXPECT_EQ(Publish("e"), 2u);
  EXPECT_EQ(a.pushes.size(), 1u);
  EXPECT_EQ(b.pushes.size(), 1u);
}

TEST_F(EngineSignals, GroupSkipsFullMembers) {
  RecordingSink m1, m2;
  auto s1 = Open(&m1);
  auto s2 = Open(&m2);
  Listen(s1, "q", "g");
  Listen(s2, "q", "g");
  m1.full = true;
  EXPECT_EQ(Publish("q"), 1u);
  EXPECT_EQ(Publish("q"), 1u);
  EXPECT_EQ(m2.pushes.size(), 2u);
  EXPECT_FALSE(m1.evicted);
}

TEST_F(EngineSignals, SlowPlainSubscriberIsEvictedAndItsLocksReleased) {
  RecordingSink slow, fine;
  auto s = Open(&slow);
  auto f = Open(&fine);
  Listen(s, "t");
  Listen(f, "t");
  auto g = Lock(s, "held");
  ASSERT_TRUE(g->ok());
  auto waiter = Lock(Open(), "held", 100);
  slow.full = true;
  EXPECT_EQ(Publish("t"), 1u);
  EXPECT_TRUE(slow.evicted);
  EXPECT_TRUE(waiter->ok());  // the evicted session's lock went to the next waiter
  EXPECT_EQ(engine->counters().slow_consumer_evictions, 1u);
  EXPECT_EQ(Publish("t"), 1u);
  EXPECT_EQ(fine.pushes.size(), 2u);
}

TEST_F(EngineSignals, AllGroupMembersFullDropsAndEvictsOne) {
  RecordingSink m1, m2;
  auto s1 = Open(&m1);
  auto s2 = Open(&m2);
  Listen(s1, "q", "g");
  Listen(s2, "q", "g");
  m1.full = m2.full = true;
  EXPECT_EQ(Publish("q"), 0u);
  EXPECT_EQ(int(m1.evicted) + int(m2.evicted), 1);
  EXPECT_EQ(engine->counters().signals_dropped, 1u);
}

TEST_F(EngineSignals, SubscriptionCap) {
  config.max_subscriptions = 2;
  Rebuild();
  RecordingSink sink;
  auto s = Open(&sink);
  EXPECT_TRUE(Listen(s, "a")->ok());
  EXPECT_TRUE(Listen(s, "b")->ok());
  EXPECT_EQ(Listen(s, "c")->error(), ErrorCode::kMaxSubscriptions);
  EXPECT_TRUE(Listen(s, "a")->ok());  // re-listening is always allowed
  EXPECT_EQ(Listen(s, "a", "grp")->error(), ErrorCode::kMaxSubscriptions);  // a new pair
}

TEST_F(EngineSignals, ListenNeedsASink) {
  EXPECT_EQ(Listen(Open(), "a")->error(), ErrorCode::kInvalid);
}

TEST_F(EngineSignals, DisconnectDropsSubscriptions) {
  RecordingSink sink;
  auto s = Open(&sink);
  Listen(s, "a.>");
  Listen(s, "a.b", "g");
  engine->CloseSession(s);
  EXPECT_EQ(Publish("a.b"), 0u);
  EXPECT_TRUE(engine->Snapshot().signal_channels.empty());
}

}  // namespace
}  // namespace dflockd::testing
