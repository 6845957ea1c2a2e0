// Watches: a live view of lock and semaphore keys for operators (dashboard, tools).
//
// A watcher names a pattern (the signal rules: `.`-separated tokens, `*` one token,
// `>` the rest) matched against lock and semaphore keys. It first receives a snapshot
// of every matching key's holders, waiters and withheld slots, closed by
// kSnapshotDone, then every change in engine order. Nothing is lost or repeated
// between the two: the engine is single-threaded and the snapshot is taken inside the
// Watch call. With no watcher, each hook costs one branch on an empty vector.
//
// Slow consumers: a sink returns false when its bounded queue is full; the engine then
// drops the watcher (WatchEvicted) rather than block or buffer without limit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/command.h"

namespace dflockd::core {

using WatchId = std::uint64_t;
using SessionId = std::uint64_t;

/// Who a session is, for watchers: which transport and which remote address.
struct SessionInfo {
  std::string transport;  ///< "native", "http", "websocket", "grpc"
  std::string remote;     ///< "ip:port"; empty when unknown
};

struct WatchEvent {
  enum class Kind : std::uint8_t {
    kHeld,          ///< snapshot: a current holder
    kWaiting,       ///< snapshot: a queued waiter (in FIFO order per key)
    kDelayed,       ///< snapshot: slots withheld by lock-delay
    kSnapshotDone,  ///< the snapshot is complete; changes follow
    kGranted,       ///< a hold began
    kReleased,      ///< a hold ended: `reason` released, expired or disconnected
    kQueued,        ///< a waiter joined the queue
    kLeft,          ///< a waiter left it: `reason` granted, timeout, cancelled,
                    ///< disconnected or draining
    kDelayStarted,  ///< lock-delay withholds a slot for `remaining_s`
    kDelayEnded,    ///< a withheld slot is free again
  };
  Kind kind = Kind::kSnapshotDone;
  Namespace ns = Namespace::kLock;
  std::string_view key;
  std::uint32_t limit = 1;
  std::uint64_t fence = 0;        ///< holds
  std::int64_t lease_s = 0;       ///< holds: the lease granted
  double remaining_s = 0;         ///< holds: lease left; delays: time withheld
  double waited_s = 0;            ///< waiters: time in the queue so far
  std::uint32_t count = 0;        ///< kDelayed: slots withheld
  std::uint64_t waiter = 0;       ///< waiters: an id that tells kLeft which one left
  SessionId session = 0;          ///< 0: no session (REST/unary hold, or detached)
  const SessionInfo* info = nullptr;  ///< the session's transport and address, if known
  std::string_view reason;
};

const char* ToString(WatchEvent::Kind kind);

class WatchSink {
 public:
  virtual ~WatchSink() = default;
  /// Queue one event. False, queueing nothing: the queue is full (the watcher is
  /// then dropped and WatchEvicted called).
  virtual bool Deliver(const WatchEvent& event) = 0;
  /// The engine dropped this watcher (slow consumer); no further calls follow.
  virtual void WatchEvicted() = 0;
};

}  // namespace dflockd::core
