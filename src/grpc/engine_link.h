// How gRPC reactors reach the engine.
//
// Threading protocol: gRPC runs handlers and reactions on its own threads, while the
// engine belongs to one thread. Everything that touches the executor or a call's
// engine-side state is posted to the engine thread with `post`; completions and
// pushes therefore run on the engine thread too, and the only things they do to a
// reactor are thread-safe gRPC calls (Finish, StartWrite, StartRead) and a mutex-
// guarded write queue. A reactor is deleted in OnDone, which gRPC calls only after
// Finish; Finish is called exactly once, on the engine thread, after the engine has
// dropped every pointer to the call.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/executor.h"
#include "grpc/peer_connections.h"
#include "metrics/registry.h"

namespace dflockd::grpc_api {

struct EngineLink {
  core::CommandExecutor& executor;
  /// Runs a task on the engine thread (FIFO).
  std::function<void(std::function<void()>)> post;
  /// Required `authorization: Bearer <token>`; empty: no auth.
  std::string auth_token;
  /// Signals queued per stream before the subscriber counts as slow.
  std::size_t max_push_queue = 64;
  /// Optional; touched on the engine thread only.
  metrics::Registry* metrics = nullptr;
  /// Connection caps and the count of calls in progress; optional.
  std::shared_ptr<PeerConnections> peers;
  /// Sharded mode: the shard list and this shard's index (Topology).
  std::vector<std::string> shards;
  std::size_t shard_self = 0;
};

/// Engine thread only: closes a stream's engine session (releasing what it held)
/// and counts the connection closed; a no-op once `session` is 0.
inline void CloseEngineSession(EngineLink& link, core::SessionId& session) {
  if (session == 0) return;
  link.executor.CloseSession(session);
  if (link.metrics != nullptr) link.metrics->ConnectionClosed(metrics::Transport::kGrpc);
  session = 0;
}

}  // namespace dflockd::grpc_api
