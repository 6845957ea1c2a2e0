// Latency samples and the summary the benchmark reports. Pure; unit-tested.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dflockd::bench {

struct Summary {
  std::uint64_t count = 0;
  double seconds = 0;       ///< measured wall time
  double ops_per_s = 0;
  double mean_us = 0;
  double p50_us = 0;
  double p90_us = 0;
  double p99_us = 0;
  double p999_us = 0;
  double max_us = 0;
};

class LatencyStats {
 public:
  void Add(std::chrono::nanoseconds latency) { samples_.push_back(latency.count()); }
  void Merge(const LatencyStats& other);
  std::size_t size() const { return samples_.size(); }

  /// Nearest-rank percentile (p in [0, 100]) in nanoseconds; 0 when empty.
  std::int64_t Percentile(double p) const;
  Summary Summarize(double seconds) const;

 private:
  mutable std::vector<std::int64_t> samples_;
  mutable bool sorted_ = false;
  void Sort() const;
};

std::string FormatSummary(const std::string& label, const Summary& s);
std::string SummaryJson(const std::string& label, const Summary& s);

}  // namespace dflockd::bench
