// Watches: snapshot then changes with no gap or duplicate, engine order, pattern
// matching, reasons, and the slow-watcher rule. With the fake clock.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/engine_fixture.h"

namespace dflockd::testing {
namespace {

using core::WatchEvent;
using Kind = WatchEvent::Kind;
using std::chrono::seconds;

/// Records events as "kind key [reason]" lines (plus the raw fields that matter).
class Recorder : public core::WatchSink {
 public:
  explicit Recorder(std::size_t capacity = 1 << 20) : capacity_(capacity) {}
  bool Deliver(const WatchEvent& e) override {
    if (lines.size() >= capacity_) return false;
    std::string line = std::string(core::ToString(e.kind));
    if (e.kind != Kind::kSnapshotDone) line += " " + std::string(e.key);
    if (!e.reason.empty()) line += " " + std::string(e.reason);
    lines.push_back(line);
    events.push_back(e);
    keys.emplace_back(e.key);
    return true;
  }
  void WatchEvicted() override { evicted = true; }
  void Clear() {
    lines.clear();
    events.clear();
    keys.clear();
  }

  std::vector<std::string> lines;
  std::vector<WatchEvent> events;  ///< key views are not kept: see `keys`
  std::vector<std::string> keys;
  bool evicted = false;

 private:
  std::size_t capacity_;
};

class Watch : public EngineFixture {};

TEST_F(Watch, SnapshotThenChangesInEngineOrder) {
  auto a = Open(), b = Open(), c = Open();
  engine->DescribeSession(a, core::SessionInfo{"native", "10.0.0.1:5000"});
  auto held = Lock(a, "jobs.1", 0, 30);
  auto wb = Lock(b, "jobs.1", 60);
  Recorder r;
  auto id = engine->Watch(">", &r);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(r.lines, (std::vector<std::string>{"held jobs.1", "waiting jobs.1", "snapshot_done"}));
  EXPECT_EQ(r.events[0].fence, held->as<core::Granted>().token.fence);
  ASSERT_NE(r.events[0].info, nullptr);
  EXPECT_EQ(r.events[0].info->transport, "native");
  EXPECT_EQ(r.events[0].info->remote, "10.0.0.1:5000");
  EXPECT_EQ(r.events[1].session, b);
  const auto waiter = r.events[1].waiter;

  r.Clear();
  auto wc = Lock(c, "jobs.1", 60);
  ASSERT_TRUE(Release(a, "jobs.1", held->as<core::Granted>().token)->ok());
  EXPECT_EQ(r.lines, (std::vector<std::string>{"queued jobs.1", "released jobs.1 released",
                                               "left jobs.1 granted", "granted jobs.1"}));
  EXPECT_EQ(r.events[2].waiter, waiter);  // the first waiter, by id
  EXPECT_EQ(r.events[3].session, b);
  EXPECT_EQ(r.events[3].fence, wb->as<core::Granted>().token.fence);
  engine->Unwatch(id.value());
  r.Clear();
  engine->CloseSession(b);
  EXPECT_TRUE(r.lines.empty());
}

TEST_F(Watch, NoGapAndNoDuplicateAcrossTheSnapshot) {
  // Whatever happened before the watch is in the snapshot exactly once; whatever
  // happens after is an event exactly once: replaying both gives the engine's state.
  auto a = Open(), b = Open();
  std::vector<std::shared_ptr<Pending>> grants;
  for (int i = 0; i < 5; ++i) grants.push_back(Lock(a, "k." + std::to_string(i), 0, 30));
  Recorder r;
  ASSERT_TRUE(engine->Watch("k.*", &r).ok());
  for (int i = 3; i < 8; ++i) Lock(b, "k." + std::to_string(i), 0, 30);  // 3 and 4 busy: timeouts
  std::set<std::string> held;
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const auto kind = r.events[i].kind;
    if (kind == Kind::kHeld || kind == Kind::kGranted) {
      EXPECT_TRUE(held.insert(r.keys[i]).second) << "twice: " << r.keys[i];
    }
  }
  EXPECT_EQ(held.size(), 8u);  // k.0..k.4 from the snapshot, k.5..k.7 granted after
  EXPECT_EQ(engine->Snapshot().locks.size(), 8u);
}

TEST_F(Watch, PatternsMatchLikeSignalsAndCoverBothNamespaces) {
  auto a = Open();
  Recorder orders, all, one;
  ASSERT_TRUE(engine->Watch("orders.>", &orders).ok());
  ASSERT_TRUE(engine->Watch(">", &all).ok());
  ASSERT_TRUE(engine->Watch("orders.*.pay", &one).ok());
  Lock(a, "orders.eu.pay", 0, 30);
  Lock(a, "orders", 0, 30);
  Sem(a, "orders.pool", 3, 0, 30);
  Lock(a, "other", 0, 30);
  auto granted = [](const Recorder& r) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < r.events.size(); ++i) {
      if (r.events[i].kind == Kind::kGranted) {
        out.push_back((r.events[i].ns == core::Namespace::kSemaphore ? "sem " : "") + r.keys[i]);
      }
    }
    return out;
  };
  EXPECT_EQ(granted(orders), (std::vector<std::string>{"orders.eu.pay", "sem orders.pool"}));
  EXPECT_EQ(granted(all).size(), 4u);
  EXPECT_EQ(granted(one), (std::vector<std::string>{"orders.eu.pay"}));
  Recorder bad;
  EXPECT_FALSE(engine->Watch("a.>.b", &bad).ok());
  EXPECT_FALSE(engine->Watch("fo*", &bad).ok());
}

TEST_F(Watch, ReasonsForEveryEnding) {
  auto a = Open(), b = Open();
  Recorder r;
  ASSERT_TRUE(engine->Watch(">", &r).ok());
  Lock(a, "exp", 0, 2);
  auto w = Lock(b, "exp", 1);
  Advance(seconds(1));  // the waiter times out
  Advance(seconds(1));  // the lease expires
  Lock(a, "gone", 0, 30);
  auto w2 = Lock(b, "gone", 60);
  engine->Cancel(w2->id);
  engine->CloseSession(a);  // auto-release
  std::vector<std::string> endings;
  for (const auto& line : r.lines) {
    if (line.rfind("released", 0) == 0 || line.rfind("left", 0) == 0) endings.push_back(line);
  }
  EXPECT_EQ(endings, (std::vector<std::string>{"left exp timeout", "released exp expired",
                                               "left gone cancelled",
                                               "released gone disconnected"}));
}

TEST_F(Watch, LockDelayIsReported) {
  config.lock_delay_s = 3;
  Rebuild();
  auto a = Open();
  Lock(a, "d", 0, 1);
  Recorder r;
  ASSERT_TRUE(engine->Watch(">", &r).ok());
  Advance(seconds(1));
  Recorder late;
  ASSERT_TRUE(engine->Watch("d", &late).ok());
  EXPECT_EQ(late.lines, (std::vector<std::string>{"delayed d", "snapshot_done"}));
  EXPECT_EQ(late.events[0].count, 1u);
  EXPECT_DOUBLE_EQ(late.events[0].remaining_s, 3.0);
  Advance(seconds(3));
  EXPECT_EQ(r.lines, (std::vector<std::string>{"held d", "snapshot_done", "released d expired",
                                               "delay_started d", "delay_ended d"}));
}

TEST_F(Watch, ASlowWatcherIsDroppedAndTheOthersGoOn) {
  auto a = Open();
  Recorder slow(3), fine;
  ASSERT_TRUE(engine->Watch(">", &slow).ok());  // snapshot_done uses one place
  ASSERT_TRUE(engine->Watch(">", &fine).ok());
  for (int i = 0; i < 5; ++i) Lock(a, "k" + std::to_string(i), 0, 30);
  EXPECT_TRUE(slow.evicted);
  EXPECT_EQ(slow.lines.size(), 3u);
  EXPECT_FALSE(fine.evicted);
  EXPECT_EQ(fine.lines.size(), 6u);
  EXPECT_EQ(engine->watcher_count(), 1u);
  // A snapshot larger than the queue evicts at once.
  Recorder tiny(2);
  ASSERT_TRUE(engine->Watch(">", &tiny).ok());
  EXPECT_TRUE(tiny.evicted);
  EXPECT_EQ(engine->watcher_count(), 1u);
}

}  // namespace
}  // namespace dflockd::testing
