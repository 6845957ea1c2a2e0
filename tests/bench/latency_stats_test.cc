#include "latency_stats.h"

#include <gtest/gtest.h>

namespace dflockd::bench {
namespace {

using std::chrono::microseconds;

TEST(LatencyStats, NearestRankPercentiles) {
  LatencyStats s;
  for (int i = 100; i >= 1; --i) s.Add(microseconds(i));  // 1..100 us, unsorted
  EXPECT_EQ(s.Percentile(50), 50'000);
  EXPECT_EQ(s.Percentile(90), 90'000);
  EXPECT_EQ(s.Percentile(99), 99'000);
  EXPECT_EQ(s.Percentile(99.9), 100'000);
  EXPECT_EQ(s.Percentile(100), 100'000);
  EXPECT_EQ(s.Percentile(0), 1'000);
}

TEST(LatencyStats, SummaryAndMerge) {
  LatencyStats a, b;
  a.Add(microseconds(10));
  a.Add(microseconds(30));
  b.Add(microseconds(20));
  a.Merge(b);
  Summary s = a.Summarize(2.0);
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.ops_per_s, 1.5);
  EXPECT_DOUBLE_EQ(s.mean_us, 20.0);
  EXPECT_DOUBLE_EQ(s.p50_us, 20.0);
  EXPECT_DOUBLE_EQ(s.max_us, 30.0);
}

TEST(LatencyStats, EmptyIsZero) {
  LatencyStats s;
  EXPECT_EQ(s.Percentile(99), 0);
  EXPECT_EQ(s.Summarize(1.0).count, 0u);
}

TEST(LatencyStats, SingleSample) {
  LatencyStats s;
  s.Add(microseconds(7));
  EXPECT_EQ(s.Percentile(1), 7'000);
  EXPECT_EQ(s.Percentile(99.9), 7'000);
}

TEST(LatencyStats, JsonHasEveryField) {
  LatencyStats s;
  s.Add(microseconds(5));
  std::string j = SummaryJson("lock w=1", s.Summarize(1));
  for (const char* field : {"\"label\":\"lock w=1\"", "\"ops_per_s\"", "\"p50_us\"", "\"p90_us\"",
                            "\"p99_us\"", "\"p999_us\"", "\"max_us\"", "\"mean_us\""}) {
    EXPECT_NE(j.find(field), std::string::npos) << field;
  }
}

}  // namespace
}  // namespace dflockd::bench
