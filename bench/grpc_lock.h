// lock mode over gRPC: acquire + release pairs on a key per worker, all workers
// driven by one completion queue on the calling thread (the asynchronous client
// API), so the tool spends its CPU on calls rather than on thread switches.
#pragma once

#include <chrono>
#include <string>

#include "latency_stats.h"

namespace dflockd::bench {

struct GrpcLockPlan {
  std::string server;  ///< host:port of the gRPC listener
  int workers = 50;
  int channels = 1;    ///< TCP connections the workers share (round-robin)
  std::chrono::steady_clock::time_point measure_from;  ///< earlier pairs are warm-up
  std::chrono::steady_clock::time_point stop_at;
  long rounds = 0;     ///< per worker; when > 0 it replaces stop_at
};

/// Runs the plan with unary Acquire and Release calls; returns the latency of every
/// measured pair. Throws on an RPC error.
LatencyStats RunGrpcLock(const GrpcLockPlan& plan);
/// The same pairs as messages on one `Session` stream per worker.
LatencyStats RunGrpcSessionLock(const GrpcLockPlan& plan);

}  // namespace dflockd::bench
