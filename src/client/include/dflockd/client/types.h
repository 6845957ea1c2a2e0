// Values the client library returns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dflockd {

/// A granted lock or semaphore slot.
struct Grant {
  std::string token;     ///< 32 hex chars; the only credential needed to release or renew
  std::int64_t lease{};  ///< lease in seconds, as reported by the server
  /// The fencing counter: the token's first 16 hex digits. Strictly increases with
  /// every grant on one server; pass it to storage that must reject stale writers.
  std::uint64_t fence() const;
};

/// Locks and semaphores live in separate namespaces on the server.
enum class ResourceKind { kLock, kSemaphore };

enum class EnqueueStatus { kAcquired, kQueued };

/// Result of phase 1 of a two-phase acquire; `grant` is set when status is kAcquired.
struct EnqueueResult {
  EnqueueStatus status = EnqueueStatus::kQueued;
  Grant grant;
};

/// A signal pushed by the server.
struct Signal {
  std::string channel;
  std::string payload;
};

struct LockStats {
  std::string key;
  std::uint64_t owner_conn_id{};
  double lease_expires_in_s{};
  std::uint64_t waiters{};
};

struct SemaphoreStats {
  std::string key;
  std::uint64_t limit{};
  std::uint64_t holders{};
  std::uint64_t waiters{};
};

struct IdleStats {
  std::string key;
  double idle_s{};
};

struct ChannelStats {
  std::string pattern;
  std::string group;  ///< empty: plain subscribers
  std::uint64_t listeners{};
};

/// The server's `stats` snapshot (protocol §6), parsed; `json` keeps the raw line.
struct Stats {
  std::uint64_t connections{};
  std::vector<LockStats> locks;
  std::vector<SemaphoreStats> semaphores;
  std::vector<IdleStats> idle_locks;
  std::vector<IdleStats> idle_semaphores;
  std::vector<ChannelStats> signal_channels;
  std::string json;
};

}  // namespace dflockd
