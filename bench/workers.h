// The closed-loop Asio workers: HTTP and Redis lock modes, and signal fan-out (the
// native lock modes run on their own loop, native_loop.h).
#pragma once

#include <string>

#include "bench_conn.h"
#include "latency_stats.h"

namespace dflockd::bench {

/// acquire + release over REST/JSON (keep-alive).
awaitable<void> HttpLockWorker(Conn& c, std::string key, Run& run, LatencyStats& stats);
/// Redis's lock pattern: SET NX PX, then the compare-and-delete script.
awaitable<void> RedisLockWorker(Conn& c, std::string key, Run& run, LatencyStats& stats);
/// Listens on bench.> and records each signal's end-to-end latency.
awaitable<void> Subscriber(Conn& c, Run& run, LatencyStats& stats, long& deliveries);
/// Publishes batches of `in_flight` signals stamped with their send time.
awaitable<void> Publisher(Conn& c, int in_flight, Run& run);

}  // namespace dflockd::bench
