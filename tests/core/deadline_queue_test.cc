#include "core/deadline_queue.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

namespace dflockd::core {
namespace {

TimePoint At(int s) { return TimePoint(std::chrono::seconds(s)); }

TEST(DeadlineQueue, PopsInDeadlineOrderWithUpdatesAndRemovals) {
  std::vector<Timed> items(200);
  DeadlineQueue q;
  std::mt19937 rng(7);
  for (auto& t : items) q.Schedule(&t, At(static_cast<int>(rng() % 1000)));
  for (int i = 0; i < 50; ++i) q.Schedule(&items[rng() % items.size()], At(static_cast<int>(rng() % 1000)));
  for (int i = 0; i < 20; ++i) q.Remove(&items[i * 3]);
  std::vector<TimePoint> popped;
  while (Timed* t = q.PopDue(At(100000))) {
    EXPECT_FALSE(t->queued());
    popped.push_back(t->deadline);
  }
  EXPECT_EQ(popped.size(), 180u);
  EXPECT_TRUE(std::is_sorted(popped.begin(), popped.end()));
}

TEST(DeadlineQueue, OnlyDueEntriesPop) {
  Timed a, b;
  DeadlineQueue q;
  q.Schedule(&a, At(5));
  q.Schedule(&b, At(10));
  EXPECT_EQ(q.Next(), At(5));
  EXPECT_EQ(q.PopDue(At(4)), nullptr);
  EXPECT_EQ(q.PopDue(At(5)), &a);
  EXPECT_EQ(q.PopDue(At(9)), nullptr);
  EXPECT_EQ(q.Next(), At(10));
}

}  // namespace
}  // namespace dflockd::core
