#include "latency_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace dflockd::bench {

void LatencyStats::Merge(const LatencyStats& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
  sorted_ = false;
}

void LatencyStats::Sort() const {
  if (!sorted_) {
    std::sort(samples_.begin(), samples_.end());
    sorted_ = true;
  }
}

std::int64_t LatencyStats::Percentile(double p) const {
  if (samples_.empty()) return 0;
  Sort();
  // Nearest rank: the smallest sample with at least p% of samples at or below it.
  double rank = std::ceil(p / 100.0 * static_cast<double>(samples_.size()));
  std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return samples_[std::min(index, samples_.size() - 1)];
}

Summary LatencyStats::Summarize(double seconds) const {
  Summary s;
  s.count = samples_.size();
  s.seconds = seconds;
  if (samples_.empty()) return s;
  Sort();
  s.ops_per_s = seconds > 0 ? static_cast<double>(s.count) / seconds : 0;
  const double total = std::accumulate(samples_.begin(), samples_.end(), 0.0);
  s.mean_us = total / static_cast<double>(s.count) / 1000.0;
  s.p50_us = static_cast<double>(Percentile(50)) / 1000.0;
  s.p90_us = static_cast<double>(Percentile(90)) / 1000.0;
  s.p99_us = static_cast<double>(Percentile(99)) / 1000.0;
  s.p999_us = static_cast<double>(Percentile(99.9)) / 1000.0;
  s.max_us = static_cast<double>(samples_.back()) / 1000.0;
  return s;
}

std::string FormatSummary(const std::string& label, const Summary& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "%-28s %10.0f ops/s  n=%-9llu mean %8.1f us  p50 %8.1f  p90 %8.1f  p99 %8.1f  "
                "p99.9 %8.1f  max %9.1f us",
                label.c_str(), s.ops_per_s, static_cast<unsigned long long>(s.count), s.mean_us,
                s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us);
  return buf;
}

std::string SummaryJson(const std::string& label, const Summary& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "{\"label\":\"%s\",\"count\":%llu,\"seconds\":%.3f,\"ops_per_s\":%.1f,"
                "\"mean_us\":%.2f,\"p50_us\":%.2f,\"p90_us\":%.2f,\"p99_us\":%.2f,"
                "\"p999_us\":%.2f,\"max_us\":%.2f}",
                label.c_str(), static_cast<unsigned long long>(s.count), s.seconds, s.ops_per_s,
                s.mean_us, s.p50_us, s.p90_us, s.p99_us, s.p999_us, s.max_us);
  return buf;
}

}  // namespace dflockd::bench
