// Process metrics in Prometheus text format: connections per transport, request
// latency histograms per transport and command, and the engine's own counters.
//
// Threading: every method is called on the engine thread (adapters record from
// their engine-thread code paths), so plain integers suffice.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/command.h"
#include "core/engine.h"

namespace dflockd::metrics {

enum class Transport : std::uint8_t { kNative, kGrpc, kHttp, kWebSocket };
inline constexpr std::size_t kTransports = 4;
inline constexpr std::size_t kCommands = std::variant_size_v<core::Command>;

class Registry {
 public:
  /// Upper bounds (seconds) of the latency histogram buckets, +Inf implied.
  static constexpr std::array<double, 16> kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  /// The same bounds in nanoseconds: an observation compares integers (one per request
  /// on every transport's hot path), no floating point.
  static constexpr std::array<std::int64_t, kBuckets.size()> kBucketsNs = [] {
    std::array<std::int64_t, kBuckets.size()> ns{};
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      ns[i] = static_cast<std::int64_t>(kBuckets[i] * 1e9 + 0.5);
    }
    return ns;
  }();

  void ConnectionOpened(Transport t) { ++connections_[Index(t)]; }
  void ConnectionClosed(Transport t) { --connections_[Index(t)]; }
  /// `command_index` is core::Command::index() of the request; `requests` of them
  /// took `latency` each.
  void ObserveLatency(Transport t, std::size_t command_index, std::chrono::nanoseconds latency,
                      std::uint64_t requests = 1);

  /// The whole exposition, engine state included.
  std::string Render(const core::Engine& engine) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size() + 1> counts{};
    std::int64_t sum_ns = 0;
    std::uint64_t count = 0;
  };
  static std::size_t Index(Transport t) { return static_cast<std::size_t>(t); }

  std::array<std::int64_t, kTransports> connections_{};
  std::array<std::array<Histogram, kCommands>, kTransports> latency_{};
};

/// Measures one request from construction to Finish().
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  std::chrono::nanoseconds Elapsed() const { return std::chrono::steady_clock::now() - start_; }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dflockd::metrics
