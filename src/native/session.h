// One native protocol connection (plain TCP or TLS).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "core/executor.h"
#include "metrics/registry.h"
#include "native/session_registry.h"

namespace dflockd::native {

struct SessionOptions {
  std::string auth_token;           ///< empty: no auth
  std::size_t max_push_queue = 64;  ///< signal frames queued per connection
  /// Pipelined input buffered while a command waits; beyond it reading pauses.
  std::size_t max_pending_input = 1 << 20;
  /// Unsent replies beyond which no further request is read or run until the client
  /// reads (backpressure); a write stuck past the write timeout closes the connection.
  std::size_t max_pending_output = 256 * 1024;
  metrics::Registry* metrics = nullptr;  ///< optional
};

/// Sharded mode (cluster/router.h): what a native connection may ask of the router.
struct ClusterHooks {
  /// `peer`: the connection comes from another shard (or, in durable mode, another
  /// replica of this one: the same shard index). False: refused.
  std::function<bool(core::SessionId, bool detached, std::size_t from_shard)> mark_peer;
  std::string topology_json;  ///< the `topology` reply's JSON
};

/// Everything sessions of one listener share.
struct SessionContext {
  core::CommandExecutor& executor;
  SessionRegistry& registry;
  SessionOptions options;
  const ClusterHooks* cluster = nullptr;  ///< null: a single server
};

/// Serve an accepted connection; `peer_ip` is the remote address (for per-IP caps).
void StartPlainSession(boost::asio::ip::tcp::socket socket, std::string peer_ip,
                       SessionContext& context);
void StartTlsSession(boost::asio::ip::tcp::socket socket, std::string peer_ip,
                     boost::asio::ssl::context& tls, SessionContext& context);

}  // namespace dflockd::native
