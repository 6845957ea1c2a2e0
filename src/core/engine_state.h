// The engine's internal records: resources, holders, waiters, sessions. Only the
// engine touches these; they are in a header so the engine can be split by topic.
//
// Lifetime protocol: holders and waiters live in SlotPools and are linked into
// intrusive lists (per resource, per session) and the deadline queue; removing one
// means unlinking it from all of them before returning it to its pool. A resource
// is erased only while it has neither holders nor waiters, so no record ever points
// at a dead resource.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/command.h"
#include "core/deadline_queue.h"
#include "core/executor.h"
#include "core/intrusive_list.h"
#include "core/subscription_index.h"
#include "core/token_source.h"
#include "core/watch.h"

namespace dflockd::core {

struct Resource;
struct SessionState;

/// Values of Timed::kind.
enum TimedKind : std::uint8_t { kLease = 1, kWaitTimeout = 2, kLockDelay = 3 };

struct Holder : Timed {
  Holder() { kind = kLease; }
  ListHook<Holder> in_session;
  Resource* resource = nullptr;
  SessionState* owner = nullptr;  ///< null once detached (session gone, no auto-release)
  SessionId owner_id = 0;
  Token token;
  std::int64_t lease_s = 0;
  std::int64_t lock_delay_s = 0;  ///< withheld this long if the hold ends unreleased
  bool awaiting_wait = false;  ///< granted to a phase-1 waiter; a Wait will report it
  /// Restored from the durable store after a failover: no session owns it until a
  /// renewal by token from a session adopts it.
  bool orphaned = false;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  void Reset() {
    static_cast<Timed&>(*this) = Timed{};
    kind = kLease;
    orphaned = false;
    in_session = {};
    resource = nullptr;
    owner = nullptr;
    owner_id = 0;
    token = {};
    lease_s = 0;
    lock_delay_s = 0;
    awaiting_wait = false;
  }
};

struct Waiter : Timed {
  Waiter() { kind = kWaitTimeout; }
  ListHook<Waiter> in_resource;
  ListHook<Waiter> in_session;
  Resource* resource = nullptr;
  SessionState* session = nullptr;
  std::int64_t lease_s = 0;
  std::int64_t lock_delay_s = 0;  ///< for the hold it will get
  bool two_phase = false;
  Completion done;  ///< empty while a phase-1 waiter has no Wait attached
  TimePoint since{};  ///< when it joined the queue (watchers show the wait)
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  void Reset() {
    static_cast<Timed&>(*this) = Timed{};
    kind = kWaitTimeout;
    in_resource = {};
    in_session = {};
    resource = nullptr;
    session = nullptr;
    lease_s = 0;
    lock_delay_s = 0;
    two_phase = false;
    done = nullptr;
    since = {};
  }
};

/// Lock-delay (Chubby, Consul): a slot withheld after a hold ended without a release
/// (lease expired, or its session closed and auto-release freed it). It counts
/// against the resource's limit until its deadline, so waiters keep their places
/// and are granted when it ends.
struct DelayedSlot : Timed {
  DelayedSlot() { kind = kLockDelay; }
  Resource* resource = nullptr;
  Token token;  ///< of the hold whose end started it (its name in the journal)
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
  void Reset() {
    static_cast<Timed&>(*this) = Timed{};
    kind = kLockDelay;
    resource = nullptr;
    token = {};
  }
};

using WaiterQueue = IntrusiveList<Waiter, &Waiter::in_resource>;

struct Resource {
  const std::string* key = nullptr;  ///< the map's own key string
  Namespace ns = Namespace::kLock;
  std::uint32_t limit = 1;
  std::vector<Holder*> holders;
  WaiterQueue waiters;
  std::uint32_t delayed = 0;  ///< slots withheld by lock-delay (DelayedSlot)
  TimePoint delayed_until{};  ///< when the last of them ends (for stats)
  ListHook<Resource> in_idle;
  TimePoint idle_since{};
  /// Idle: nothing held, waited for or withheld, so GC may drop it.
  bool idle() const { return holders.empty() && waiters.empty() && delayed == 0; }
};

/// Two-phase progress of one session on one key.
struct TwoPhase {
  Waiter* waiter = nullptr;  ///< set while queued
  Holder* holder = nullptr;  ///< set once granted, until Wait reports it
  Token token;               ///< the grant, to tell a reused holder slot apart
};

struct SessionState {
  SessionId id = 0;
  SessionInfo info;  ///< transport and remote address, when the adapter told us
  Subscriber subscriber;
  IntrusiveList<Holder, &Holder::in_session> holds;
  IntrusiveList<Waiter, &Waiter::in_session> waiters;
  /// Keyed by namespace tag + key (see Engine::TwoPhaseKey).
  std::unordered_map<std::string, TwoPhase> two_phase;
  /// (pattern, group) registrations, for cleanup and the subscription cap.
  std::set<std::pair<std::string, std::string>, std::less<>> subscriptions;
};

using ResourceMap = std::unordered_map<std::string, Resource, StringHash, std::equal_to<>>;

}  // namespace dflockd::core
