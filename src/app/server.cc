#include "app/server.h"

#include <signal.h>
#include <sys/resource.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "app/fence_file.h"
#include "cluster/router.h"
#include "cluster/topology.h"
#include "core/engine.h"
#include "grpc/grpc_server.h"
#include "ha/replica.h"
#include "json/stats_json.h"
#include "http/http_listener.h"
#include "metrics/registry.h"
#include "native/listener.h"
#include "runtime/engine_host.h"

namespace dflockd::app {
namespace {

namespace asio = boost::asio;

core::EngineConfig EngineConfigFrom(const Config& c) {
  core::EngineConfig e;
  e.default_lease_s = c.default_lease_ttl_s;
  e.gc_interval = std::chrono::seconds(c.gc_interval_s);
  e.gc_max_idle = std::chrono::seconds(c.gc_max_idle_s);
  e.max_locks = c.max_locks;
  e.max_waiters = c.max_waiters;
  e.max_subscriptions = c.max_subscriptions;
  e.auto_release_on_disconnect = c.auto_release_on_disconnect;
  e.lock_delay_s = c.lock_delay_s;
  e.max_lease_s = c.max_lease_ttl_s;
  return e;
}

std::unique_ptr<asio::ssl::context> MakeTlsContext(const Config& c) {
  if (c.tls_cert.empty()) return nullptr;
  auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  tls->use_certificate_chain_file(c.tls_cert);
  tls->use_private_key_file(c.tls_key, asio::ssl::context::pem);
  return tls;
}

/// The context this shard dials other shards with: their certificates must chain to
/// --shard-tls-ca (or to --tls-cert itself: shards that share one certificate trust it
/// directly) and name the host in the shard list.
std::unique_ptr<asio::ssl::context> MakePeerTlsContext(const Config& c) {
  if (c.tls_cert.empty() || c.shards.empty()) return nullptr;
  auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  tls->load_verify_file(c.shard_tls_ca.empty() ? c.tls_cert : c.shard_tls_ca);
  // A certificate in the trust file is an anchor even if it is not a root (a shared
  // leaf, or an intermediate).
  X509_STORE_set_flags(SSL_CTX_get_cert_store(tls->native_handle()), X509_V_FLAG_PARTIAL_CHAIN);
  tls->set_verify_mode(asio::ssl::verify_peer);
  return tls;
}

/// First fence: wall-clock nanoseconds, but never below the persisted mark.
std::uint64_t FirstFence(const FenceState& stored) {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  std::uint64_t fence = static_cast<std::uint64_t>(
      std::max<std::int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  return std::max(fence, stored.mark);
}

/// Reads the fence state and marks this run as started (no `clean` line), which also
/// proves the file can be written: a server that could not persist fences would
/// otherwise start and refuse every grant. Throws with the reason.
FenceState OpenFenceState(FenceFile& file, const std::string& path) {
  auto stored = file.Load();
  if (!stored) throw std::runtime_error("fence state file " + path + " is unreadable or corrupt");
  if (!file.Reserve(FirstFence(*stored))) {
    throw std::runtime_error("cannot write fence state file " + path + ": " + file.last_error());
  }
  return *stored;
}

/// Every connection is a descriptor: lift the soft limit (often 1024) to the hard one.
void RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) {
    spdlog::debug("file descriptor limit raised to {}", static_cast<unsigned long long>(limit.rlim_cur));
  }
}

}  // namespace

int RunServer(const Config& config) {
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  ::signal(SIGPIPE, SIG_IGN);
  RaiseDescriptorLimit();

  std::unique_ptr<FenceFile> fence_file;
  std::unique_ptr<asio::ssl::context> tls;
  std::unique_ptr<asio::ssl::context> peer_tls;
  FenceState fence_state;
  try {
    if (!config.fence_state_file.empty()) {
      fence_file = std::make_unique<FenceFile>(config.fence_state_file);
      fence_state = OpenFenceState(*fence_file, config.fence_state_file);
    }
    tls = MakeTlsContext(config);
    peer_tls = MakePeerTlsContext(config);
  } catch (const std::exception& e) {
    spdlog::error("invalid configuration: {}", e.what());
    return 1;
  }

  asio::io_context io(1);
  core::SteadyClock clock;
  const bool durable = !config.etcd_endpoints.empty();
  // Durable mode: fences come from etcd revisions (each term rebases them above the
  // last), so they must not start at the wall clock.
  const std::uint64_t first_fence = durable ? 1 : FirstFence(fence_state);
  core::TokenSource tokens(first_fence, fence_file.get());
  core::EngineConfig engine_config = EngineConfigFrom(config);
  // Restart grace: the last run did not stop cleanly, so holders it granted may still
  // be inside their leases. (No file at all: a first start, nothing to wait for.)
  const bool unclean_restart = fence_state.exists && !fence_state.clean;
  if (unclean_restart && config.restart_grace_s > 0) {
    engine_config.restart_grace = std::chrono::seconds(config.restart_grace_s);
  }
  core::Engine engine(engine_config, clock, tokens);
  runtime::EngineHost host(io, engine);
  metrics::Registry metrics;

  // Durable mode: the replica decides whether this process's engine serves the keys.
  std::unique_ptr<ha::Replica> replica;
  if (durable) {
    ha::ReplicaOptions ro;
    ro.etcd.endpoints = config.etcd_endpoints;
    ro.etcd.user = config.etcd_user;
    ro.etcd.password = config.etcd_password;
    ro.etcd.ca_file = config.etcd_ca;
    ro.etcd.cert_file = config.etcd_cert;
    ro.etcd.key_file = config.etcd_key;
    ro.prefix = config.etcd_prefix;
    ro.advertise = config.advertise;
    ro.election_ttl_s = config.election_ttl_s;
    ro.log.max_txn_ops = config.etcd_max_txn_ops;
    ro.log.max_in_flight = config.etcd_pipeline;
    ro.log.batch_wait = std::chrono::microseconds(config.etcd_batch_wait_us);
    ro.log.fold_interval = std::chrono::milliseconds(config.etcd_fold_interval_ms);
    ro.log.txn_timeout = std::chrono::milliseconds(config.etcd_timeout_ms);
    ro.log.compact_interval = std::chrono::seconds(config.etcd_compact_interval_s);
    try {
      replica = std::make_unique<ha::Replica>(io, host, engine, clock, tokens, std::move(ro));
    } catch (const std::exception& e) {
      spdlog::error("invalid configuration: etcd: {}", e.what());
      return 1;
    }
  }
  core::CommandExecutor& engine_side = replica ? static_cast<core::CommandExecutor&>(*replica)
                                               : static_cast<core::CommandExecutor&>(host);

  // Sharded mode: every adapter talks to the router, which runs owned keys here and
  // forwards the rest to their shards.
  cluster::Topology topology{config.shards, config.shard_self};
  std::unique_ptr<cluster::Router> router;
  native::ClusterHooks cluster_hooks;
  if (topology.sharded() || replica) {
    cluster::RouterConfig rc;
    rc.topology = topology;
    rc.replicated = replica != nullptr;
    if (replica) {
      rc.describe = [&replica](core::StatsSnapshot& s) { s.replication = replica->Status(); };
    }
    rc.auth_token = config.auth_token;
    rc.tls = peer_tls.get();
    // Well inside every shard's read timeout (the same configuration everywhere).
    rc.ping_interval = std::min<std::chrono::milliseconds>(
        std::chrono::seconds(5), std::chrono::seconds(config.read_timeout_s) / 3);
    router = std::make_unique<cluster::Router>(io, engine_side, std::move(rc));
    if (replica) {
      replica->OnLeaderChange([&router](std::optional<std::string> leader) {
        router->SetLeader(std::move(leader));
      });
    }
    cluster_hooks.mark_peer = [&router](core::SessionId s, bool detached, std::size_t from_shard) {
      return router->MarkPeer(s, detached, from_shard);
    };
    cluster_hooks.topology_json = cluster::TopologyJson(topology);
  }
  core::CommandExecutor& executor = router ? static_cast<core::CommandExecutor&>(*router)
                                           : engine_side;

  native::ListenerConfig native_config;
  native_config.host = config.host;
  native_config.port = config.port;
  native_config.read_timeout = std::chrono::seconds(config.read_timeout_s);
  native_config.write_timeout = std::chrono::seconds(config.write_timeout_s);
  native_config.max_connections = config.max_connections;
  native_config.max_per_ip = config.max_connections_per_ip;
  native_config.session.auth_token = config.auth_token;
  native_config.session.max_push_queue = config.signal_queue_size;
  native_config.session.metrics = &metrics;
  native_config.tls = tls.get();
  native_config.cluster = router ? &cluster_hooks : nullptr;
  native::Listener native_listener(io, executor, native_config);

  std::unique_ptr<grpc_api::GrpcServer> grpc_server;
  if (config.grpc_port != 0) {
    auto post = [&io](std::function<void()> task) { asio::post(io, std::move(task)); };
    grpc_api::EngineLink link{executor, post, config.auth_token, config.signal_queue_size, &metrics,
                              std::make_shared<grpc_api::PeerConnections>(
                                  config.max_connections, config.max_connections_per_ip),
                              config.shards, config.shard_self};
    grpc_api::GrpcServerConfig grpc_config{config.host, config.grpc_port, config.tls_cert,
                                           config.tls_key};
    // The read timeout is the idle limit on every transport: a dead peer is found
    // within it (ping at half, answer within the other half).
    const auto read_timeout = std::chrono::milliseconds(std::chrono::seconds(config.read_timeout_s));
    grpc_config.keepalive_time = std::max(read_timeout / 2, std::chrono::milliseconds(500));
    grpc_config.keepalive_timeout = grpc_config.keepalive_time;
    grpc_config.max_idle = read_timeout;
    grpc_server = std::make_unique<grpc_api::GrpcServer>(std::move(link), grpc_config);
  }

  http::HttpContext http_context{executor};
  http_context.topology_json = cluster::TopologyJson(topology);
  if (replica) {
    http_context.cluster_json = [&replica] {
      std::string out;
      json::AppendReplicationJson(out, replica->Status());
      return out;
    };
  }
  http_context.auth_token = config.auth_token;
  http_context.max_push_queue = config.signal_queue_size;
  http_context.read_timeout = std::chrono::seconds(config.read_timeout_s);
  http_context.write_timeout = std::chrono::seconds(config.write_timeout_s);
  http_context.limiter = limits::ConnectionLimiter(config.max_connections,
                                                   config.max_connections_per_ip);
  http_context.metrics = &metrics;
  http_context.render_metrics = [&] {
    std::string out = metrics.Render(engine);
    if (router) out += router->RenderMetrics();
    if (replica) out += replica->RenderMetrics();
    return out;
  };
  http_context.draining = [&] { return engine.draining(); };
  std::unique_ptr<http::HttpListener> http_listener;
  if (config.http_port != 0) {
    http_listener = std::make_unique<http::HttpListener>(io, http_context, config.host,
                                                         config.http_port, tls.get());
  }

  try {
    native_listener.Start();
    if (http_listener) http_listener->Start();
  } catch (const std::exception& e) {
    spdlog::error("cannot listen on {}: {}", config.host, e.what());
    return 1;
  }
  try {
    if (grpc_server) grpc_server->Start();
  } catch (const std::exception& e) {
    spdlog::error("gRPC: {}", e.what());
    native_listener.registry().AbortAll();
    io.poll();
    return 1;
  }
  host.Start();
  if (router) router->Start();
  if (topology.sharded()) {
    spdlog::info("sharded mode: shard {} of {} ({}); keys of other shards are forwarded",
                 topology.self, topology.shards.size(), topology.shards[topology.self]);
  }
  if (replica) {
    replica->Start();
    spdlog::info("durable mode: etcd {} prefix {}, advertised as {}", config.etcd_endpoints.front(),
                 config.etcd_prefix, config.advertise);
  }
  spdlog::info("dflockd ready (default lease {}s, max locks {}, auth {}, TLS {})",
               config.default_lease_ttl_s, config.max_locks,
               config.auth_token.empty() ? "off" : "on", tls ? "on" : "off");
  if (config.lock_delay_s > 0) spdlog::info("lock-delay {}s", config.lock_delay_s);
  asio::steady_timer grace_timer(io);
  if (unclean_restart) {
    if (engine.in_restart_grace()) {
      spdlog::warn("the last run did not stop cleanly: restart grace, no grant for {}s "
                   "(holders of the last run may still be inside their leases)",
                   config.restart_grace_s);
      grace_timer.expires_after(std::chrono::seconds(config.restart_grace_s));
      grace_timer.async_wait([](const boost::system::error_code& e) {
        if (!e) spdlog::info("restart grace over: granting");
      });
    } else {
      spdlog::warn("the last run did not stop cleanly (no --restart-grace: granting at once)");
    }
  }

  // Shutdown (§4): stop accepting, cancel waits, answer new commands with
  // error_draining; stop when the last connection is gone or the timeout hits.
  asio::steady_timer shutdown_timer(io);
  asio::steady_timer drain_poll(io);
  bool draining = false;
  unsigned drain_polls = 0;
  // Drained: no native connection, no REST request with the engine, no WebSocket,
  // no gRPC call. (Idle HTTP keep-alive connections do not hold the drain.)
  auto drained = [&] {
    return native_listener.registry().size() == 0 && http_context.busy_requests == 0 &&
           http_context.websockets == 0 && (!grpc_server || grpc_server->calls() == 0);
  };
  std::function<void()> stop_if_drained = [&] {
    if (!draining) return;
    if (drained()) {
      spdlog::info("drained: every connection has ended");
      io.stop();
      return;
    }
    if (++drain_polls % 40 == 0) {  // every 2 s: say what the drain waits for
      spdlog::info("draining: {} native connection(s), {} REST request(s), {} WebSocket(s), "
                   "{} gRPC call(s) left",
                   native_listener.registry().size(), http_context.busy_requests,
                   http_context.websockets, grpc_server ? grpc_server->calls() : 0);
    }
    drain_poll.expires_after(std::chrono::milliseconds(50));
    drain_poll.async_wait([&](const boost::system::error_code& e) {
      if (!e) stop_if_drained();
    });
  };
  // SIGHUP would kill the process (its default action) without a drain. dflockd logs
  // to standard output and reads its configuration once, so there is nothing to reload.
  asio::signal_set hangup(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> on_hangup =
      [&](const boost::system::error_code& ec, int) {
        if (ec) return;
        spdlog::info("SIGHUP ignored: nothing to reload (logs go to standard output)");
        hangup.async_wait(on_hangup);
      };
  hangup.async_wait(on_hangup);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        if (draining) {
          spdlog::warn("second signal {}: closing all connections now", signo);
          native_listener.registry().AbortAll();
          io.stop();
          return;
        }
        draining = true;
        spdlog::info("signal {}: draining (up to {}s)", signo, config.shutdown_timeout_s);
        native_listener.StopAccepting();
        // HTTP keeps accepting: probes must see /readyz answer 503 while draining.
        if (grpc_server) grpc_server->SetServing(false);
        // Durable mode: hand leadership over first, so the shard keeps serving (and
        // this replica's clients reconnect to it) while this one drains.
        if (replica) replica->Retire();
        engine.BeginDrain();
        shutdown_timer.expires_after(std::chrono::seconds(config.shutdown_timeout_s));
        shutdown_timer.async_wait([&](const boost::system::error_code& e) {
          if (e) return;
          spdlog::warn("shutdown timeout: closing {} native connection(s), {} WebSocket(s), "
                       "{} gRPC call(s)",
                       native_listener.registry().size(), http_context.websockets,
                       grpc_server ? grpc_server->calls() : 0);
          native_listener.registry().AbortAll();
          io.stop();
        });
        stop_if_drained();
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);

  io.run();

  // gRPC calls still open are cancelled now; they finish through the engine thread,
  // so keep it running until the gRPC server has shut down.
  if (grpc_server) {
    io.restart();
    auto keep_running = asio::make_work_guard(io);
    std::thread stopper([&] {
      grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
      io.stop();  // timers may still be pending: stop rather than wait for idleness
    });
    io.run();
    stopper.join();
  }

  // Close what is left and let the aborted handlers run, so every session is gone
  // before the engine, the listeners and their contexts are destroyed.
  native_listener.registry().AbortAll();
  http_context.AbortAll();
  if (replica) replica->Stop();
  if (router) router->Stop();
  host.Stop();
  signals.cancel();
  hangup.cancel();
  shutdown_timer.cancel();
  drain_poll.cancel();
  grace_timer.cancel();
  io.restart();
  io.poll();
  // A clean stop: the next start needs no restart grace. (Every fence issued is
  // below the reserved mark.)
  if (fence_file != nullptr &&
      !fence_file->MarkClean(std::max(tokens.reserved_until(), first_fence))) {
    spdlog::error("could not mark the fence state file clean: the next start will apply "
                  "--restart-grace");
  }
  spdlog::info("dflockd stopped");
  return 0;
}

}  // namespace dflockd::app
