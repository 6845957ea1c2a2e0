// The core engine: every lock, semaphore, waiter, lease and subscription.
//
// A single-threaded state machine: no mutex inside, no I/O, no wall clock. It is
// driven by CommandExecutor calls and by Tick(), which the host calls at
// NextDeadline() (lease expiries, wait timeouts, idle GC). Every operation costs
// O(log n) in the number of keys, waiters and timers at most; nothing scans all keys
// except Snapshot().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/engine_state.h"
#include "core/executor.h"
#include "core/journal.h"
#include "core/slot_pool.h"

namespace dflockd::core {

struct EngineConfig {
  std::int64_t default_lease_s = 33;
  Duration gc_interval = std::chrono::seconds(5);
  Duration gc_max_idle = std::chrono::seconds(60);
  std::size_t max_locks = 1024;         ///< resource entries, idle ones included
  std::size_t max_waiters = 0;          ///< per key; 0 = unlimited
  std::size_t max_subscriptions = 0;    ///< per session; 0 = unlimited
  bool auto_release_on_disconnect = true;
  /// Lock-delay: a hold that ends without a release (lease expiry, or auto-release
  /// when its session closes) withholds its slot this long. 0 = off. Acquire and
  /// Enqueue may override it per hold.
  std::int64_t lock_delay_s = 0;
  /// Longest lease (and lock-delay) a request may ask for; 0 = the protocol's bound.
  std::int64_t max_lease_s = 0;
  /// Grants held back this long from construction (restart after an unclean stop,
  /// so holders of the previous run whose leases still run cannot overlap new ones).
  Duration restart_grace{0};
};

/// Counters for metrics; monotonic except where noted.
struct EngineCounters {
  std::uint64_t grants = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t expiries = 0;
  std::uint64_t signals_published = 0;
  std::uint64_t signals_delivered = 0;
  std::uint64_t signals_dropped = 0;
  std::uint64_t slow_consumer_evictions = 0;
  std::uint64_t lock_delays = 0;      ///< lock-delays started
  std::uint64_t fence_refusals = 0;   ///< grants refused: no fence could be persisted
};

class Engine final : public CommandExecutor {
 public:
  Engine(EngineConfig config, const Clock& clock, TokenSource& tokens);
  ~Engine() override;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  SessionId OpenSession(SessionSink* sink) override;
  void CloseSession(SessionId session) override;
  RequestId Submit(SessionId session, Command command, Completion done) override;
  void Cancel(RequestId request) override;
  void DescribeSession(SessionId session, SessionInfo info) override;
  Result<WatchId> Watch(std::string pattern, WatchSink* sink) override;
  void Unwatch(WatchId watch) override;
  std::size_t watcher_count() const { return watchers_.size(); }

  /// Expire due leases, time out due waiters and run GC when its interval is up.
  void Tick();
  /// When Tick() next has work to do.
  TimePoint NextDeadline() const;

  /// Shutdown: every waiter completes with kDraining and every later command is
  /// answered kDraining. Holds stay until their sessions close.
  void BeginDrain();
  bool draining() const { return draining_; }

  /// Durable mode: every observable change is reported to `journal` (null: none).
  void SetJournal(Journal* journal) { journal_ = journal; }
  /// Durable mode, a new leader loading the store: puts back a hold owned by no
  /// session (orphaned until a renewal adopts it) with its lease restarted at full
  /// length. Ignores the lock-table cap; kLimitMismatch if the key exists with another
  /// limit, kInvalid for a token already held.
  Result<Ack> Restore(const HoldRecord& hold);
  /// As Restore, for a lock-delay: withheld for `delay_s` from now.
  Result<Ack> RestoreDelay(const DelayRecord& delay, std::int64_t delay_s);
  /// Durable mode, stepping down: forgets every hold, waiter, lock-delay and key
  /// without reporting them to the journal; waiters complete with `why`. Sessions and
  /// their subscriptions stay.
  void Reset(ErrorCode why);

  StatsSnapshot Snapshot() const;
  const EngineCounters& counters() const { return counters_; }
  /// Keys with a slot withheld by lock-delay right now.
  std::size_t keys_in_delay() const { return keys_in_delay_; }
  /// Restart grace: grants are held back until restart_grace_until().
  bool in_restart_grace() const { return Now() < grace_until_; }
  TimePoint restart_grace_until() const { return grace_until_; }
  /// False while no fence can be persisted (grants are refused meanwhile).
  bool fences_available() const { return !fences_down_; }
  std::size_t session_count() const { return sessions_.size(); }
  std::size_t resource_count() const { return resources_[0].size() + resources_[1].size(); }
  std::size_t held_count() const { return holders_.live(); }
  std::size_t waiter_count() const { return waiters_.live(); }

 private:
  // Locks and semaphores (engine_locks.cc).
  Result<Reply> DoAcquire(SessionState* s, Acquire& cmd, Completion& done, RequestId& id);
  Result<Reply> DoEnqueue(SessionState* s, Enqueue& cmd);
  Result<Reply> DoWait(SessionState* s, Wait& cmd, Completion& done, RequestId& id);
  Result<Reply> DoRelease(Release& cmd);
  Result<Reply> DoRenew(SessionState* s, Renew& cmd);
  void JournalHold(const Holder& h);
  Result<Resource*> FindOrCreate(Namespace ns, const std::string& key, std::uint32_t limit);
  Resource* Find(Namespace ns, std::string_view key);
  /// As FindOrCreate, ignoring --max-locks (state restored from the durable store).
  Result<Resource*> FindOrCreateUncapped(Namespace ns, std::string_view key, std::uint32_t limit);
  Holder* FindHolder(Resource& r, const Token& token);
  /// The unexpired holder of `token` on (ns, key), or kInvalid / kNotHeld.
  Result<Holder*> FindLiveHolder(Namespace ns, const std::string& key, const TokenArg& token);
  /// Requires HasRoom(r) and FenceReady().
  Granted Grant(Resource& r, SessionState* owner, SessionId owner_id, std::int64_t lease_s,
                std::int64_t lock_delay_s);
  /// A grant for a request that found room, or kFenceUnavailable (counted).
  Result<Granted> GrantNow(Resource& r, SessionState* s, std::int64_t lease_s,
                           std::int64_t lock_delay_s);
  void GrantToWaiter(Waiter* w);
  /// Queues a waiter at the back of `r` (FIFO), or kMaxWaiters.
  Result<Waiter*> AddWaiter(Resource& r, SessionState* s, std::int64_t lease_s,
                            std::int64_t lock_delay_s, bool two_phase);
  /// A slot is free: fewer holders and withheld slots than the limit, and no
  /// restart grace in force.
  bool HasRoom(const Resource& r) const;
  /// A fence can be issued now (persisted first when a store is configured). If not,
  /// grants wait and a retry is scheduled.
  bool FenceReady();
  /// Withholds one slot of `r` for `delay_s` from `from` (lock-delay).
  /// `of`: the hold whose end starts it.
  void StartDelay(Resource& r, std::int64_t delay_s, TimePoint from, const Token& of);
  void EndDelay(DelayedSlot* d);
  /// Grants to every queue that has room (after restart grace or a fence outage).
  void PromoteAll();
  std::int64_t LockDelayOrDefault(const std::optional<std::int64_t>& delay) const;
  /// Leases and lock-delays within --max-lease-ttl.
  bool WithinMaxLease(const Command& command) const;
  void EvictExpired(Resource& r);
  /// `why` (released, expired, disconnected) is what watchers are told.
  void RemoveHolder(Holder* h, std::string_view why);
  /// `why`: granted, timeout, cancelled, disconnected or draining.
  void RemoveWaiter(Waiter* w, std::string_view why);
  void Promote(Resource& r);
  void UpdateIdle(Resource& r);
  void ExpireLease(Holder* h);
  void TimeOutWait(Waiter* w);
  void CollectGarbage();
  static std::string TwoPhaseKey(Namespace ns, std::string_view key);
  std::int64_t LeaseOrDefault(const std::optional<std::int64_t>& lease) const;
  RequestId HandleOf(const Waiter* w) const;

  // Watches (engine_watch.cc). The Emit* hooks are called only while watchers_ is
  // not empty.
  struct Watcher {
    WatchId id;
    std::string pattern;
    WatchSink* sink;
  };
  WatchEvent ResourceEvent(WatchEvent::Kind kind, const Resource& r) const;
  WatchEvent HoldEvent(WatchEvent::Kind kind, const Holder& h, std::string_view reason,
                       TimePoint now) const;
  WatchEvent WaiterEvent(WatchEvent::Kind kind, const Waiter& w, std::string_view reason,
                         TimePoint now) const;
  void Notify(const WatchEvent& event);
  void EmitHold(WatchEvent::Kind kind, const Holder& h, std::string_view reason);
  void EmitWaiter(WatchEvent::Kind kind, const Waiter& w, std::string_view reason);
  void EmitDelay(WatchEvent::Kind kind, const Resource& r, TimePoint until);

  // Signals (engine_signals.cc).
  Result<Reply> DoListen(SessionState* s, Listen& cmd);
  Result<Reply> DoUnlisten(SessionState* s, Unlisten& cmd);
  Result<Reply> DoPublish(Publish& cmd);
  void Unsubscribe(SessionState* s);

  void CloseSessionState(SessionState* s);
  SessionState* FindSession(SessionId id);

  /// One engine call (a command, a tick, a close): every rule it applies sees the
  /// same instant, and the clock is read at most once for all of them (reads were
  /// ~2% of the native lock path, several per command). Calls nest: an inner call
  /// (a completion submitting again) reads its own instant, the outer one keeps its.
  class CallScope {
   public:
    explicit CallScope(const Engine& e)
        : engine_(e), outer_(std::exchange(e.call_time_, kUnread)),
          outer_active_(std::exchange(e.in_call_, true)) {}
    ~CallScope() {
      engine_.call_time_ = outer_;
      engine_.in_call_ = outer_active_;
    }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    const Engine& engine_;
    TimePoint outer_;
    bool outer_active_;
  };
  static constexpr TimePoint kUnread = TimePoint::min();
  /// The current call's instant (read on first use), or the clock outside any call.
  TimePoint Now() const {
    if (!in_call_) return clock_.Now();
    if (call_time_ == kUnread) call_time_ = clock_.Now();
    return call_time_;
  }

  EngineConfig config_;
  const Clock& clock_;
  mutable TimePoint call_time_ = kUnread;  ///< see CallScope
  mutable bool in_call_ = false;
  TokenSource& tokens_;
  ResourceMap resources_[2];  ///< indexed by Namespace
  IntrusiveList<Resource, &Resource::in_idle> idle_;  ///< oldest idle first
  SlotPool<Holder> holders_;
  SlotPool<Waiter> waiters_;
  SlotPool<DelayedSlot> delays_;
  std::size_t keys_in_delay_ = 0;
  TimePoint grace_until_{};
  bool grace_pending_ = false;  ///< waiters are promoted when the grace ends
  TimePoint fence_retry_ = kNever;  ///< when blocked waiters try for a fence again
  bool fences_down_ = false;        ///< the last attempt to persist a fence failed
  DeadlineQueue deadlines_;
  TimePoint next_gc_;
  /// Node-based: a SessionState stays put while it lives (holds and waiters point to
  /// it), and a lookup reaches it without a further indirection.
  std::unordered_map<SessionId, SessionState> sessions_;
  SessionId next_session_id_ = 1;
  SubscriptionIndex subscriptions_;
  std::uint64_t publish_stamp_ = 0;
  std::vector<SessionState*> evictions_;  ///< reused scratch for DoPublish
  EngineCounters counters_;
  std::vector<Watcher> watchers_;
  WatchId next_watch_id_ = 1;
  bool draining_ = false;
  Journal* journal_ = nullptr;
};

}  // namespace dflockd::core
