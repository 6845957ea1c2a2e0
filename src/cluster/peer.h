// Another shard as this one sees it: its address, whether it can be reached (with
// reconnect backoff), a pool of connections for requests that belong to no session
// (REST and unary gRPC holds outlive the call), and counters for /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/upstream.h"

namespace dflockd::cluster {

class Peer {
 public:
  using Clock = std::chrono::steady_clock;

  Peer(std::size_t index, std::string address, UpstreamOptions options);

  std::size_t index() const { return index_; }
  const std::string& address() const { return address_; }
  /// Options for a new connection to this peer.
  UpstreamOptions Options(bool detached) const;

  /// False within the backoff after a failed attempt: requests fail fast meanwhile.
  bool Available(Clock::time_point now) const { return now >= retry_at_; }
  bool up() const { return up_; }
  /// It answered `error_draining`: until a connection is established again, its keys
  /// fail with kDraining rather than kUnavailable (it stopped accepting).
  void MarkDraining() { draining_ = true; }
  bool draining() const { return draining_; }
  /// A connection could not be made (or was refused): back off, log the change.
  void MarkDown(const std::string& why);
  /// A connection was established: log the change, reset the backoff.
  void MarkUp();

  /// An idle detached connection, or null.
  std::shared_ptr<Upstream> TakeIdle();
  /// Keeps `conn` for reuse (up to a few), or closes it.
  void ReturnIdle(std::shared_ptr<Upstream> conn);
  void CloseIdle();
  /// Calls f on every idle pooled connection (the router pings them: the peer's read
  /// timeout would close them).
  template <typename F>
  void ForEachIdle(F f) {
    for (auto& c : idle_) f(c);
  }
  /// Drops pooled connections that broke.
  void PruneIdle();

  std::uint64_t forwarded = 0;        ///< requests sent
  std::uint64_t errors = 0;           ///< requests failed for want of the peer
  std::uint64_t connections_opened = 0;

 private:
  static constexpr std::size_t kMaxIdle = 16;
  std::size_t index_;
  std::string address_;
  UpstreamOptions options_;
  std::vector<std::shared_ptr<Upstream>> idle_;
  Clock::time_point retry_at_{};
  std::chrono::milliseconds backoff_{0};
  bool up_ = true;
  bool draining_ = false;  ///< until proven otherwise: nothing is logged before a failure
};

}  // namespace dflockd::cluster
