// What HTTP and WebSocket sessions of one listener share. Everything here is used on
// the engine's io_context thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "core/executor.h"
#include "metrics/registry.h"

namespace dflockd::http {

/// Largest request body or WebSocket message: a 64 KiB payload plus JSON framing
/// and escaping.
inline constexpr std::size_t kMaxBody = 160 * 1024;
/// Largest request header block.
inline constexpr std::size_t kMaxHeader = 8 * 1024;

struct HttpContext {
  explicit HttpContext(core::CommandExecutor& e) : executor(e) {}

  core::CommandExecutor& executor;
  std::string auth_token;                   ///< empty: no auth
  std::size_t max_push_queue = 64;          ///< WebSocket signal frames queued
  std::chrono::seconds read_timeout{23};    ///< idle / slow request limit
  std::chrono::seconds write_timeout{5};
  std::size_t max_connections = 0;          ///< 0 = unlimited
  metrics::Registry* metrics = nullptr;
  std::function<std::string()> render_metrics;
  std::function<bool()> draining;
  std::size_t connections = 0;              ///< open HTTP + WebSocket connections
};

}  // namespace dflockd::http
