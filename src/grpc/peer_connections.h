// `--max-connections` and `--max-connections-per-ip` for gRPC. gRPC's C++ API shows a
// server no connections, only calls and their peer (`ipv4:10.0.0.7:51234`, one port
// per connection), so a connection is counted while it has at least one call open:
// a call that would open a new connection over a cap is refused with
// RESOURCE_EXHAUSTED, and idle connections are closed by gRPC's idle limit instead
// (GRPC_ARG_MAX_CONNECTION_IDLE_MS). Thread-safe: calls start on gRPC's threads.
#pragma once

#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "limits/connection_limiter.h"

namespace dflockd::grpc_api {

/// The address part of a gRPC peer URI (`ipv4:1.2.3.4:5` → `1.2.3.4`,
/// `ipv6:[::1]:5` → `::1`); any other form whole.
std::string PeerAddress(std::string_view peer);

class PeerConnections {
 public:
  PeerConnections(std::size_t max_total, std::size_t max_per_ip)
      : limiter_(max_total, max_per_ip) {}

  /// Counts a call from `peer`; false if it would open a connection over a cap.
  bool Enter(const std::string& peer);
  void Leave(const std::string& peer);
  /// Calls in progress (the shutdown drain waits for them).
  std::size_t calls() const;

 private:
  mutable std::mutex mu_;
  limits::ConnectionLimiter limiter_;
  std::unordered_map<std::string, std::size_t> calls_per_peer_;
  std::size_t calls_ = 0;
};

/// One call's place in PeerConnections, left when destroyed.
class CallSlot {
 public:
  CallSlot() = default;
  CallSlot(PeerConnections* owner, std::string peer) : owner_(owner), peer_(std::move(peer)) {}
  CallSlot(CallSlot&& o) noexcept : owner_(o.owner_), peer_(std::move(o.peer_)) {
    o.owner_ = nullptr;
  }
  CallSlot& operator=(CallSlot&& o) noexcept {
    if (this != &o) {
      Reset();
      owner_ = o.owner_;
      peer_ = std::move(o.peer_);
      o.owner_ = nullptr;
    }
    return *this;
  }
  ~CallSlot() { Reset(); }
  /// gRPC's peer string ("ipv4:10.0.0.7:51234"); empty if connections are not counted.
  const std::string& peer() const { return peer_; }

 private:
  void Reset() {
    if (owner_ != nullptr) owner_->Leave(peer_);
    owner_ = nullptr;
  }


  PeerConnections* owner_ = nullptr;
  std::string peer_;
};

}  // namespace dflockd::grpc_api
