// HTTP method + target → what to do. Pure.
//
//   POST /v1/locks/{key}/{acquire|release|renew|enqueue|wait}
//   POST /v1/semaphores/{key}/{acquire|release|renew|enqueue|wait}
//   POST /v1/signals/{channel}
//   GET  /v1/stats[?scope=cluster]    GET /v1/topology    GET /v1/ws (WebSocket)
//   GET  /v1/cluster (durable mode: this replica's role, leader, term, etcd health)
//   GET  /healthz  /readyz  /metrics    GET /ui (the dashboard)
#pragma once

#include <string>
#include <string_view>

#include "core/command.h"

namespace dflockd::http {

enum class Endpoint {
  kAcquire, kRelease, kRenew, kEnqueue, kWait, kPublish, kStats,
  kHealthz, kReadyz, kMetrics, kWebSocket, kTopology, kCluster, kUi,
  kListen, kUnlisten, kPing,  ///< WebSocket messages only
  kNotFound,          ///< 404
  kMethodNotAllowed,  ///< 405; `allow` names the method that would work
};

struct Route {
  Endpoint endpoint = Endpoint::kNotFound;
  core::Namespace ns = core::Namespace::kLock;
  std::string key;  ///< percent-decoded key or channel
  const char* allow = "";
  bool cluster_scope = false;  ///< stats: `?scope=cluster`, every shard merged
};

Route MatchRoute(std::string_view method, std::string_view target);

/// Decodes %XX escapes; false on a malformed escape.
bool PercentDecode(std::string_view in, std::string& out);

}  // namespace dflockd::http
