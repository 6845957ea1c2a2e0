#include "metrics/registry.h"

#include <cstdio>

namespace dflockd::metrics {
namespace {

constexpr const char* kTransportNames[kTransports] = {"native", "grpc", "http", "websocket"};
constexpr const char* kCommandNames[kCommands] = {"acquire", "enqueue", "wait",     "release",
                                                  "renew",   "listen",  "unlisten", "publish",
                                                  "ping",    "stats"};

void Line(std::string& out, const char* fmt, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  out.append(buf, static_cast<std::size_t>(n));
}

void Header(std::string& out, const char* name, const char* type, const char* help) {
  Line(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

}  // namespace

void Registry::ObserveLatency(Transport t, std::size_t command_index,
                              std::chrono::nanoseconds latency, std::uint64_t requests) {
  if (command_index >= kCommands) return;
  Histogram& h = latency_[Index(t)][command_index];
  const std::int64_t ns = latency.count();
  std::size_t bucket = 0;
  while (bucket < kBucketsNs.size() && ns > kBucketsNs[bucket]) ++bucket;
  h.counts[bucket] += requests;
  h.sum_ns += ns * static_cast<std::int64_t>(requests);
  h.count += requests;
}

std::string Registry::Render(const core::Engine& engine) const {
  std::string out;
  out.reserve(16 * 1024);
  Header(out, "dflockd_connections", "gauge", "Open client connections and streams.");
  for (std::size_t t = 0; t < kTransports; ++t) {
    Line(out, "dflockd_connections{transport=\"%s\"} %lld\n", kTransportNames[t],
         static_cast<long long>(connections_[t]));
  }
  const auto& c = engine.counters();
  const auto gauge = [&](const char* name, const char* help, unsigned long long v) {
    Header(out, name, "gauge", help);
    Line(out, "%s %llu\n", name, v);
  };
  const auto counter = [&](const char* name, const char* help, unsigned long long v) {
    Header(out, name, "counter", help);
    Line(out, "%s %llu\n", name, v);
  };
  gauge("dflockd_sessions", "Engine sessions (connections of every transport).",
        engine.session_count());
  gauge("dflockd_resources", "Lock and semaphore keys, idle ones included.",
        engine.resource_count());
  gauge("dflockd_holds", "Granted holds (locks and semaphore slots).", engine.held_count());
  gauge("dflockd_waiters", "Queued waiters.", engine.waiter_count());
  counter("dflockd_grants_total", "Holds granted.", c.grants);
  counter("dflockd_timeouts_total", "Acquires and waits that timed out.", c.timeouts);
  counter("dflockd_lease_expiries_total", "Holds evicted because their lease ran out.",
          c.expiries);
  counter("dflockd_signals_published_total", "Signals published.", c.signals_published);
  counter("dflockd_signals_delivered_total", "Signal copies delivered.", c.signals_delivered);
  counter("dflockd_signals_dropped_total", "Signal copies dropped on full queues.",
          c.signals_dropped);
  counter("dflockd_slow_consumer_evictions_total", "Connections dropped as slow consumers.",
          c.slow_consumer_evictions);
  gauge("dflockd_keys_in_lock_delay", "Keys with a slot withheld by lock-delay.",
        engine.keys_in_delay());
  counter("dflockd_lock_delays_total",
          "Lock-delays started (holds that ended by expiry or disconnect, not release).",
          c.lock_delays);
  gauge("dflockd_restart_grace", "1 while grants are held back after an unclean restart.",
        engine.in_restart_grace() ? 1 : 0);
  gauge("dflockd_fences_unavailable", "1 while fences cannot be persisted (grants refused).",
        engine.fences_available() ? 0 : 1);
  counter("dflockd_fence_refusals_total", "Grants refused because no fence could be persisted.",
          c.fence_refusals);

  Header(out, "dflockd_request_duration_seconds", "histogram",
         "Time from request to response, waiting included.");
  for (std::size_t t = 0; t < kTransports; ++t) {
    for (std::size_t k = 0; k < kCommands; ++k) {
      const Histogram& h = latency_[t][k];
      if (h.count == 0) continue;
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < kBuckets.size(); ++b) {
        cumulative += h.counts[b];
        Line(out,
             "dflockd_request_duration_seconds_bucket{transport=\"%s\",command=\"%s\",le=\"%g\"} "
             "%llu\n",
             kTransportNames[t], kCommandNames[k], kBuckets[b],
             static_cast<unsigned long long>(cumulative));
      }
      cumulative += h.counts.back();
      Line(out,
           "dflockd_request_duration_seconds_bucket{transport=\"%s\",command=\"%s\",le=\"+Inf\"} "
           "%llu\n",
           kTransportNames[t], kCommandNames[k], static_cast<unsigned long long>(cumulative));
      Line(out, "dflockd_request_duration_seconds_sum{transport=\"%s\",command=\"%s\"} %.9g\n",
           kTransportNames[t], kCommandNames[k], static_cast<double>(h.sum_ns) / 1e9);
      Line(out, "dflockd_request_duration_seconds_count{transport=\"%s\",command=\"%s\"} %llu\n",
           kTransportNames[t], kCommandNames[k], static_cast<unsigned long long>(h.count));
    }
  }
  return out;
}

}  // namespace dflockd::metrics
