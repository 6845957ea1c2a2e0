// dflockd-bench: closed-loop load generator for dflockd (native, HTTP, gRPC) and for
// Redis's lock pattern.
//
// Each worker runs one operation at a time, so the measured latency is what a client
// sees. Everything runs on one thread (the server under test usually shares the
// machine). This file holds the options, the run (phases, progress line, stall
// watchdog) and the report; the workers are in native_loop.cc (native lock modes),
// workers.cc and grpc_lock.cc, the connection in bench_conn.h.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "dflockd/client/sharding.h"
#include "bench_conn.h"
#include "grpc_lock.h"
#include "latency_stats.h"
#include "native_loop.h"
#include "workers.h"
#include "ws_watcher.h"

using namespace dflockd::bench;  // Run, Conn, the workers, LatencyStats

namespace {

struct Options {
  std::string mode = "lock";
  std::string transport = "native";  ///< native | http | grpc (lock mode)
  int grpc_channels = 1;  ///< gRPC: channels (TCP connections) the workers share
  std::string grpc_api = "unary";  ///< gRPC: unary calls, or a Session stream per worker
  std::string target = "dflockd";    ///< dflockd | redis (lock mode)
  std::string server = "127.0.0.1:6388";
  std::vector<std::string> servers;  ///< several: keys are sharded by CRC-32, like the clients
  int workers = 50;
  double duration_s = 5;
  double warmup_s = 1;
  long rounds = 0;  ///< per worker; overrides duration
  int publishers = 1;
  int subscribers = 100;
  int in_flight = 64;
  int connections = 20000;
  std::vector<int> server_pids;  ///< connections mode: servers whose RSS is reported
  /// "I/N": every key is one that shard I of N owns (crc32(key) % N == I), to measure
  /// a sharded set directly at the owner or through another pod.
  std::string key_shard;
  /// WebSocket watchers on `>` during the run (the watch API's cost), on `http`.
  int watchers = 0;
  std::string http = "127.0.0.1:6389";
  bool json = false;
  bool progress = true;
};

long RssKiB(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}


tcp::endpoint Resolve(asio::io_context& io, const std::string& server) {
  auto colon = server.rfind(':');
  tcp::resolver resolver(io);
  return *resolver.resolve(server.substr(0, colon), server.substr(colon + 1)).begin();
}

void Report(const Options& o, const std::string& label, const LatencyStats& stats, double seconds,
            const std::string& extra_json = "") {
  auto s = stats.Summarize(seconds);
  if (o.json) {
    std::string j = dflockd::bench::SummaryJson(label, s);
    if (!extra_json.empty()) j.insert(j.size() - 1, "," + extra_json);
    std::cout << j << "\n";
  } else {
    std::cout << dflockd::bench::FormatSummary(label, s) << "\n";
  }
}

/// `base`, or the first `base-<n>` that shard I of N owns when --key-shard I/N is set.
std::string KeyFor(const Options& o, std::string base) {
  if (o.key_shard.empty()) return base;
  const auto slash = o.key_shard.find('/');
  const std::size_t index = std::stoul(o.key_shard.substr(0, slash));
  const std::size_t count = std::stoul(o.key_shard.substr(slash + 1));
  for (int n = 0;; ++n) {
    std::string key = base + "-" + std::to_string(n);
    if (dflockd::stable_hash_shard(key, count) == index) return key;
  }
}

int RunBench(const Options& o) {
  asio::io_context io(1);
  std::vector<tcp::endpoint> endpoints;
  for (const auto& server : o.servers.empty() ? std::vector<std::string>{o.server} : o.servers) {
    endpoints.push_back(Resolve(io, server));
  }
  // The server that owns a key (or channel), as a sharding client would pick it.
  auto shard = [&](const std::string& key) { return endpoints[dflockd::stable_hash_shard(key, endpoints.size())]; };
  Run run;
  run.rounds = o.rounds;
  const auto start = Clock::now();
  run.measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.rounds > 0 ? 0 : o.warmup_s));
  run.stop_at = run.measure_from + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(o.duration_s));
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<LatencyStats> stats;
  std::exception_ptr failure;
  auto on_done = [&](std::exception_ptr e) {
    if (e && !failure) {
      failure = e;
      run.stopping = true;
      io.stop();
    }
  };
  long deliveries = 0;
  asio::steady_timer ticker(io);
  int running = 0;
  auto finished = [&](std::exception_ptr e) {
    on_done(e);
    if (--running == 0) ticker.cancel();  // the last worker ends the run
  };

  if (o.mode == "connections") {
    std::vector<std::unique_ptr<Conn>> idle;
    int opened = 0;
    for (int i = 0; i < o.connections; ++i) {
      idle.push_back(std::make_unique<Conn>(io));
      asio::co_spawn(io, [&, c = idle.back().get(), i]() -> awaitable<void> {
        co_await c->Connect(endpoints[static_cast<std::size_t>(i) % endpoints.size()]);
        if (o.key_shard.empty()) {
          const std::string pong = co_await c->Request("ping\n_\n_\n");
          if (pong == "ok") ++opened;
        } else {
          // Each connection holds a lock of that shard: through another pod, a
          // forwarded session with its own upstream connection.
          const std::string key = KeyFor(o, "bench-idle-" + std::to_string(i));
          const std::string reply = co_await c->Request("l\n" + key + "\n0 3600\n");
          if (reply.rfind("ok ", 0) == 0) ++opened;
        }
      }, on_done);
    }
    io.run();
    if (failure) std::rethrow_exception(failure);
    std::vector<long> rss;
    for (int pid : o.server_pids) rss.push_back(RssKiB(pid));
    if (o.json) {
      std::cout << "{\"label\":\"connections\",\"open\":" << opened << ",\"server_rss_kib\":"
                << (rss.empty() ? -1 : rss[0]);
      if (rss.size() > 1) {
        std::cout << ",\"servers_rss_kib\":[";
        for (std::size_t i = 0; i < rss.size(); ++i) std::cout << (i ? "," : "") << rss[i];
        std::cout << "]";
      }
      std::cout << "}\n";
    } else {
      std::cout << "connections open: " << opened << ", server RSS: ";
      if (rss.empty()) std::cout << "unknown (pass --server-pid)";
      for (std::size_t i = 0; i < rss.size(); ++i) {
        std::cout << (i ? ", " : "") << rss[i] << " KiB (pid " << o.server_pids[i] << ")";
      }
      std::cout << "\n";
    }
    return 0;
  }

  if (o.transport == "grpc") {
    if (!o.servers.empty()) {
      std::cerr << "dflockd-bench: --servers is not supported with --transport grpc\n";
      return 1;
    }
    dflockd::bench::GrpcLockPlan plan;
    plan.server = o.server;
    plan.workers = o.workers;
    plan.channels = o.grpc_channels;
    plan.measure_from = run.measure_from;
    plan.stop_at = run.stop_at;
    plan.rounds = o.rounds;
    const bool session = o.grpc_api == "session";
    LatencyStats all = session ? dflockd::bench::RunGrpcSessionLock(plan) : dflockd::bench::RunGrpcLock(plan);
    Report(o, std::string(session ? "lock (grpc session)" : "lock (grpc)") + " w=" + std::to_string(o.workers), all,
           std::chrono::duration<double>(run.stop_at - run.measure_from).count());
    return 0;
  }

  std::vector<std::unique_ptr<dflockd::bench::WsWatcher>> watchers;
  for (int i = 0; i < o.watchers; ++i) {
    watchers.push_back(std::make_unique<dflockd::bench::WsWatcher>(o.http));
    watchers.back()->Start();
  }
  const bool signal_mode = o.mode == "signal";
  const int n = signal_mode ? o.subscribers + o.publishers : o.workers;
  auto key_of = [&](int i) {
    return KeyFor(o, o.mode == "contended"   ? "bench-contended"
                     : o.mode == "semaphore" ? "bench-sem"
                     : signal_mode           ? "bench.load"
                     : o.mode == "two-phase" ? "bench-tp-" + std::to_string(i)
                                             : "bench-" + std::to_string(i));
  };
  double seconds = 0;
  if (!signal_mode && o.transport == "native" && o.target == "dflockd") {
    NativeLoopPlan plan;
    plan.flavour = o.mode == "semaphore"   ? NativeLoopPlan::Flavour::kSemaphore
                   : o.mode == "two-phase" ? NativeLoopPlan::Flavour::kTwoPhase
                                           : NativeLoopPlan::Flavour::kLock;
    plan.semaphore_limit = std::max(1, o.workers / 2);
    plan.measure_from = run.measure_from;
    plan.stop_at = run.stop_at;
    plan.rounds = o.rounds;
    plan.progress = o.progress;
    plan.progress_label = o.mode;
    for (int i = 0; i < n; ++i) {
      NativeLoopPlan::Worker w;
      w.key = key_of(i);
      const tcp::endpoint server = shard(w.key);
      std::memcpy(&w.server, server.data(), server.size());
      w.server_size = static_cast<socklen_t>(server.size());
      plan.workers.push_back(std::move(w));
    }
    NativeLoopResult result = RunNativeLoop(plan);
    stats = std::move(result.per_worker);
    seconds = result.seconds;
  } else {
    stats.resize(n);
    for (int i = 0; i < n; ++i) conns.push_back(std::make_unique<Conn>(io));
    running = n;
    for (int i = 0; i < n; ++i) {
      asio::co_spawn(io, [&, i]() -> awaitable<void> {
        Conn& c = *conns[i];
        const std::string key = key_of(i);
        co_await c.Connect(shard(key));
        if (signal_mode) {
          if (i < o.subscribers) {
            co_await Subscriber(c, run, stats[i], deliveries);
          } else {
            asio::steady_timer settle(io, std::chrono::milliseconds(200));  // subscribers first
            co_await settle.async_wait(use_awaitable);
            co_await Publisher(c, o.in_flight, run);
            run.stopping = true;
            if (i == n - 1) io.stop();  // subscribers block in reads; end the run here
          }
        } else if (o.target == "redis") {
          co_await RedisLockWorker(c, key, run, stats[i]);
        } else {
          co_await HttpLockWorker(c, key, run, stats[i]);
        }
      }, finished);
    }

    // Progress line on stderr once a second.
    long last_ops = 0;
    constexpr int kStallLimitSeconds = 10;
    int stalled_for = 0;
    std::function<void()> tick = [&] {
      ticker.expires_after(std::chrono::seconds(1));
      ticker.async_wait([&](boost::system::error_code ec) {
        // `running == 0`: the last worker ended the run (its cancel may come after the
        // timer fired, when this handler is already queued with success).
        if (ec || run.stopping || running == 0) return;
        if (o.progress) {
          std::fprintf(stderr, "\r%s: %ld ops/s (%s)   ", o.mode.c_str(), run.ops - last_ops,
                       Clock::now() < run.measure_from ? "warm-up" : "measuring");
        }
        // A run where nothing completes for kStallLimit is stuck (a server that stopped
        // answering): fail loudly instead of waiting forever.
        stalled_for = run.ops == last_ops ? stalled_for + 1 : 0;
        if (stalled_for >= kStallLimitSeconds) {
          failure = std::make_exception_ptr(std::runtime_error(
              "no operation completed for " + std::to_string(kStallLimitSeconds) + " s"));
          run.stopping = true;
          io.stop();
          return;
        }
        last_ops = run.ops;
        tick();
      });
    };
    tick();
    io.run();
    if (o.progress) std::fprintf(stderr, "\r%60s\r", "");
    if (failure) std::rethrow_exception(failure);
    const double measured = std::chrono::duration<double>(
                                std::min(Clock::now(), run.stop_at) - run.measure_from)
                                .count();
    seconds = o.rounds > 0 ? std::chrono::duration<double>(Clock::now() - start).count() : measured;
  }

  LatencyStats all;
  for (auto& s : stats) all.Merge(s);
  std::string label = o.mode;
  if (o.target == "redis") {
    label += " (redis)";
  } else if (o.transport != "native") {
    label += " (" + o.transport + ")";
  }
  label += " w=" + std::to_string(signal_mode ? o.subscribers : o.workers);
  if (signal_mode) {
    label = "signal p=" + std::to_string(o.publishers) + " s=" + std::to_string(o.subscribers);
    Report(o, label + " (deliveries)", all, seconds);
  } else if (o.mode == "contended") {
    std::size_t least = SIZE_MAX, most = 0;
    for (auto& s : stats) {
      least = std::min(least, s.size());
      most = std::max(most, s.size());
    }
    Report(o, label, all, seconds,
           "\"per_worker_min\":" + std::to_string(least) + ",\"per_worker_max\":" +
               std::to_string(most));
    if (!o.json) std::cout << "  fairness: ops per worker min " << least << ", max " << most << "\n";
  } else if (!watchers.empty()) {
    long events = 0;
    bool dropped = false;
    for (auto& w : watchers) {
      w->Stop();
      events += w->events();
      dropped = dropped || w->dropped();
    }
    Report(o, label + " +" + std::to_string(watchers.size()) + " watcher(s)", all, seconds,
           "\"watch_events\":" + std::to_string(events) + ",\"watcher_dropped\":" +
               (dropped ? "true" : "false"));
    if (!o.json) {
      std::cout << "  watchers received " << events << " events" << (dropped ? " (DROPPED)" : "")
                << "\n";
    }
  } else {
    Report(o, label, all, seconds);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"dflockd-bench: closed-loop load generator for dflockd"};
  app.add_option("--mode", o.mode, "lock | contended | semaphore | two-phase | signal | connections")
      ->check(CLI::IsMember({"lock", "contended", "semaphore", "two-phase", "signal", "connections"}))
      ->capture_default_str();
  app.add_option("--server", o.server, "host:port")->capture_default_str();
  app.add_option("--servers", o.servers,
                 "several host:port (comma-separated); keys are sharded by CRC-32 like the clients")
      ->delimiter(',');
  app.add_option("--grpc-channels", o.grpc_channels,
                 "gRPC: connections the workers share (default 1: one channel, as gRPC "
                 "clients are meant to be used; N = workers gives each its own)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--grpc-api", o.grpc_api,
                 "gRPC lock mode: unary (Acquire + Release calls) | session (both as messages "
                 "on one Session stream per worker)")
      ->check(CLI::IsMember({"unary", "session"}))
      ->capture_default_str();
  app.add_option("--transport", o.transport, "native | http | grpc (lock mode)")
      ->check(CLI::IsMember({"native", "http", "grpc"}))
      ->capture_default_str();
  app.add_option("--target", o.target,
                 "dflockd | redis (lock mode: SET NX PX + compare-and-delete script)")
      ->check(CLI::IsMember({"dflockd", "redis"}))
      ->capture_default_str();
  app.add_option("--workers", o.workers, "connections, one operation in flight each")
      ->capture_default_str();
  app.add_option("--duration", o.duration_s, "measured seconds")->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "seconds before measuring")->capture_default_str();
  app.add_option("--rounds", o.rounds, "operations per worker instead of a duration");
  app.add_option("--publishers", o.publishers, "signal mode")->capture_default_str();
  app.add_option("--subscribers", o.subscribers, "signal mode")->capture_default_str();
  app.add_option("--in-flight", o.in_flight, "signal mode: pipelined publishes per publisher")
      ->capture_default_str();
  app.add_option("--connections", o.connections, "connections mode")->capture_default_str();
  app.add_option("--server-pid", o.server_pids,
                 "connections mode: read this server's RSS (repeatable)");
  app.add_option("--key-shard", o.key_shard,
                 "I/N: use keys that shard I of N owns (sharded sets: at the owner, or via another pod)")
      ->check([](const std::string& v) {
        const auto slash = v.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == v.size() ||
            v.find_first_not_of("0123456789/") != std::string::npos ||
            std::stoul(v.substr(0, slash)) >= std::stoul(v.substr(slash + 1))) {
          return std::string("expected I/N with I < N");
        }
        return std::string();
      });
  app.add_option("--watchers", o.watchers,
                 "lock modes: this many WebSocket watchers on '>' during the run (see --http)")
      ->check(CLI::Range(0, 64));
  app.add_option("--http", o.http, "the server's HTTP host:port, for --watchers")->capture_default_str();
  app.add_flag("--json", o.json, "one JSON object per result");
  app.add_flag("!--no-progress", o.progress, "no live progress line");
  CLI11_PARSE(app, argc, argv);
  if ((o.transport != "native" || o.target == "redis") && o.mode != "lock") {
    std::cerr << "dflockd-bench: --transport and --target redis apply to --mode lock only\n";
    return 1;
  }
  rlimit limit{};  // every worker is a descriptor: lift the soft limit to the hard one
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  try {
    return RunBench(o);
  } catch (const std::exception& e) {
    std::cerr << "dflockd-bench: " << e.what() << "\n";
    return 1;
  }
}
