// What HTTP and WebSocket sessions of one listener share. Everything here is used on
// the engine's io_context thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <unordered_set>

#include "core/executor.h"
#include "limits/connection_limiter.h"
#include "metrics/registry.h"

namespace dflockd::http {

/// Largest request body or WebSocket message: a 64 KiB payload plus JSON framing
/// and escaping.
inline constexpr std::size_t kMaxBody = 160 * 1024;
/// Largest request header block.
inline constexpr std::size_t kMaxHeader = 8 * 1024;
/// Unsent output per connection (WebSocket replies) beyond which the server stops
/// reading that connection's requests until the client reads.
inline constexpr std::size_t kMaxPendingOutput = 256 * 1024;

/// A live HTTP or WebSocket connection, as the listener sees it at shutdown.
class LiveConnection {
 public:
  /// Close the socket now; pending operations then complete and release the session.
  virtual void Abort() = 0;

 protected:
  ~LiveConnection() = default;
};

struct HttpContext {
  explicit HttpContext(core::CommandExecutor& e) : executor(e) {}

  core::CommandExecutor& executor;
  std::string auth_token;                   ///< empty: no auth
  std::size_t max_push_queue = 64;          ///< WebSocket signal frames queued
  std::chrono::seconds read_timeout{23};    ///< idle / slow request limit
  std::chrono::seconds write_timeout{5};
  /// HTTP + WebSocket connections, in total and per client address.
  limits::ConnectionLimiter limiter{0, 0};
  metrics::Registry* metrics = nullptr;
  std::function<std::string()> render_metrics;
  std::function<bool()> draining;
  std::string topology_json = R"({"cluster":false,"shards":[]})";  ///< GET /v1/topology
  std::function<std::string()> cluster_json;  ///< GET /v1/cluster (durable mode)
  std::size_t busy_requests = 0;  ///< REST requests with the engine (the drain waits)
  std::size_t websockets = 0;     ///< open WebSocket sessions (the drain waits)
  std::unordered_set<LiveConnection*> live;  ///< every session, for AbortAll

  /// Closes every connection (end of shutdown), so that each session is gone once
  /// the io_context has run their aborted handlers, before this context is.
  void AbortAll() {
    auto connections = live;
    for (LiveConnection* c : connections) c->Abort();
  }
};

/// One admitted connection, counted in the listener's limiter until destroyed. It
/// moves with the socket when an HTTP connection becomes a WebSocket.
class ConnectionSlot {
 public:
  ConnectionSlot(HttpContext& ctx, std::string ip) : ctx_(&ctx), ip_(std::move(ip)) {}
  ConnectionSlot(ConnectionSlot&& o) noexcept : ctx_(o.ctx_), ip_(std::move(o.ip_)) {
    o.ctx_ = nullptr;
  }
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (ctx_ != nullptr) ctx_->limiter.Release(ip_);
  }

 private:
  HttpContext* ctx_;
  std::string ip_;
};

}  // namespace dflockd::http
