// Monotonic time for the engine. Every timing rule (leases, waits, GC) reads time
// through Clock so tests can drive it by hand.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace dflockd::core {

using Duration = std::chrono::nanoseconds;
/// Nanoseconds on a monotonic clock; only differences are meaningful.
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

inline constexpr TimePoint kNever = TimePoint::max();

/// now + d, clamped to kNever: leases may be up to ~292 years, which overflows
/// a nanosecond counter that has already run for a while.
inline TimePoint AddSaturating(TimePoint now, Duration d) {
  if (d.count() >= (kNever - now).count()) return kNever;
  return now + d;
}

/// Seconds from `from` to `to`, 0 if `to` is not later (time left, time waited).
inline double SecondsBetween(TimePoint from, TimePoint to) {
  return to <= from ? 0 : std::chrono::duration<double>(to - from).count();
}

/// Whole seconds to Duration, saturating instead of overflowing.
inline Duration Seconds(std::int64_t s) {
  constexpr std::int64_t kMaxSeconds = std::numeric_limits<std::int64_t>::max() / 1'000'000'000;
  if (s >= kMaxSeconds) return Duration::max();
  return std::chrono::seconds(s);
}

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

/// The real monotonic clock (std::chrono::steady_clock).
class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

}  // namespace dflockd::core
