// The native-protocol lock modes (lock, contended, semaphore, two-phase) on one
// level-triggered epoll loop.
//
// Why not Asio here: a closed-loop client always reads right after it sends, when the
// reply cannot be there yet, so Asio's speculative read costs one extra `recv`
// (EAGAIN) per request, and coroutine frames cost more again. Near the server's limit
// that client overhead decided the result (`dflockd-bench` reached 88% of what
// `../shared/tools/lean_load.c` reached against the same canned-reply server). This
// loop does what lean_load does per request (one `read`, one `write`, an
// `epoll_wait` shared by all ready connections) and still times every operation: two
// vDSO clock reads per operation cost nothing measurable.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <string>
#include <vector>

#include "latency_stats.h"

namespace dflockd::bench {

struct NativeLoopPlan {
  enum class Flavour { kLock, kSemaphore, kTwoPhase };
  struct Worker {
    sockaddr_storage server{};  ///< the server that owns `key`
    socklen_t server_size = 0;
    std::string key;
  };
  std::vector<Worker> workers;
  Flavour flavour = Flavour::kLock;
  int semaphore_limit = 1;
  std::chrono::steady_clock::time_point measure_from;
  std::chrono::steady_clock::time_point stop_at;
  long rounds = 0;  ///< per worker; overrides stop_at when > 0
  bool progress = true;
  std::string progress_label;
};

struct NativeLoopResult {
  std::vector<LatencyStats> per_worker;  ///< one per worker, in plan order
  double seconds = 0;                    ///< measured wall time
};

/// Runs the plan to completion on the calling thread. Throws on a connection error,
/// an unexpected reply, or when nothing completes for 10 s.
NativeLoopResult RunNativeLoop(const NativeLoopPlan& plan);

}  // namespace dflockd::bench
