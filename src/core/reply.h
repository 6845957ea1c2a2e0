// The results the engine hands back, one type per kind of reply.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/token.h"

namespace dflockd::core {

/// A lock or semaphore slot was granted. The token (its fence included) goes to the
/// client as 32 hex digits (core/token.h).
struct Granted {
  Token token;
  std::int64_t lease_s = 0;
};

/// Enqueue joined the wait queue; the grant comes with a later Wait.
struct Queued {};

/// A renew succeeded; the lease now runs `lease_s` from the renewal.
struct Renewed {
  std::int64_t lease_s = 0;
};

/// Success with nothing to report (release, listen, unlisten, ping).
struct Ack {};

/// A signal was published; `deliveries` copies were handed to subscribers.
struct Published {
  std::uint64_t deliveries = 0;
};

/// A point-in-time view of the engine (native `stats`, §6 of the protocol).
struct StatsSnapshot {
  struct Lock {
    std::string key;
    std::uint64_t owner_session = 0;  ///< 0 when only waiters remain
    double lease_expires_in_s = 0;
    std::uint64_t waiters = 0;
    double lock_delay_remaining_s = 0;  ///< > 0 while lock-delay withholds the key
  };
  struct Semaphore {
    std::string key;
    std::uint32_t limit = 0;
    std::uint64_t holders = 0;
    std::uint64_t waiters = 0;
    std::uint64_t delayed = 0;  ///< slots withheld by lock-delay
    double lock_delay_remaining_s = 0;
  };
  struct Idle {
    std::string key;
    double idle_s = 0;
  };
  struct Channel {
    std::string pattern;
    std::string group;  ///< empty for plain subscriptions
    std::uint64_t listeners = 0;
  };
  std::uint64_t connections = 0;
  std::vector<Lock> locks;
  std::vector<Semaphore> semaphores;
  std::vector<Idle> idle_locks;
  std::vector<Idle> idle_semaphores;
  std::vector<Channel> signal_channels;
  // Safety state; each is reported only while it applies.
  std::uint64_t keys_in_lock_delay = 0;
  double restart_grace_remaining_s = 0;  ///< > 0 while grants are held back
  bool fences_unavailable = false;       ///< grants refused: fences cannot be persisted
  /// Cluster scope only: one entry per shard, in shard order.
  struct Shard {
    std::string address;
    bool reachable = false;
    std::string error;  ///< why it did not answer
  };
  std::vector<Shard> shards;
  /// Durable mode only: this replica's view of its shard's replication.
  struct Replication {
    std::string role;    ///< leader, follower or candidate
    std::string leader;  ///< the leader's native address; empty while none is known
    std::int64_t term = 0;  ///< the leader's election revision in etcd
    std::string store;      ///< the etcd endpoint in use
    bool store_healthy = false;
    std::int64_t committed_revision = 0;  ///< the last write this replica committed
  };
  std::optional<Replication> replication;
};

using Reply = std::variant<Granted, Queued, Renewed, Ack, Published, StatsSnapshot>;

}  // namespace dflockd::core
