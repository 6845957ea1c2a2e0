// One native protocol connection (plain TCP or TLS).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
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

/// Everything sessions of one listener share.
struct SessionContext {
  core::CommandExecutor& executor;
  SessionRegistry& registry;
  SessionOptions options;
};

/// Serve an accepted connection; `peer_ip` is the remote address (for per-IP caps).
void StartPlainSession(boost::asio::ip::tcp::socket socket, std::string peer_ip,
                       SessionContext& context);
void StartTlsSession(boost::asio::ip::tcp::socket socket, std::string peer_ip,
                     boost::asio::ssl::context& tls, SessionContext& context);

}  // namespace dflockd::native
