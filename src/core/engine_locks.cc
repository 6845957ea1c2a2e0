// Engine: locks and semaphores — FIFO grants, leases, two-phase acquisition, GC.
#include <algorithm>
#include <utility>

#include "core/engine.h"
#include "core/subject.h"

namespace dflockd::core {

std::string Engine::TwoPhaseKey(Namespace ns, std::string_view key) {
  std::string k;
  k.reserve(key.size() + 1);
  k.push_back(ns == Namespace::kLock ? 'l' : 's');
  k.append(key);
  return k;
}

std::int64_t Engine::LeaseOrDefault(const std::optional<std::int64_t>& lease) const {
  return lease ? *lease : config_.default_lease_s;
}

std::int64_t Engine::LockDelayOrDefault(const std::optional<std::int64_t>& delay) const {
  return delay ? *delay : config_.lock_delay_s;
}

bool Engine::HasRoom(const Resource& r) const {
  // The clock is read only while a restart grace is pending (Tick clears it when the
  // grace ends), not on every acquire and release.
  return r.holders.size() + r.delayed < r.limit && !(grace_pending_ && in_restart_grace());
}

bool Engine::FenceReady() {
  fences_down_ = !tokens_.Ready();
  if (!fences_down_) return true;
  // Try again in a second; waiters keep their places (their timeouts still run).
  if (fence_retry_ == kNever) fence_retry_ = AddSaturating(Now(), std::chrono::seconds(1));
  return false;
}

void Engine::StartDelay(Resource& r, std::int64_t delay_s, TimePoint from, const Token& of) {
  if (delay_s <= 0) return;
  TimePoint until = AddSaturating(from, Seconds(delay_s));
  if (until <= Now()) return;  // already over (a lease found expired late)
  DelayedSlot* d = delays_.Acquire();
  d->resource = &r;
  d->token = of;
  if (r.delayed++ == 0) ++keys_in_delay_;
  r.delayed_until = std::max(r.delayed_until, until);
  deadlines_.Schedule(d, until);
  ++counters_.lock_delays;
  if (journal_ != nullptr) journal_->DelayStarted(DelayRecord{r.ns, *r.key, r.limit, of, until});
  if (!watchers_.empty()) EmitDelay(WatchEvent::Kind::kDelayStarted, r, until);
}

void Engine::EndDelay(DelayedSlot* d) {
  Resource& r = *d->resource;
  if (journal_ != nullptr) journal_->DelayEnded(d->token);
  deadlines_.Remove(d);
  delays_.Release(d);
  if (--r.delayed == 0) --keys_in_delay_;
  if (!watchers_.empty()) EmitDelay(WatchEvent::Kind::kDelayEnded, r, Now());
  Promote(r);
  UpdateIdle(r);
}

void Engine::PromoteAll() {
  for (auto& map : resources_) {
    for (auto& [key, r] : map) {
      if (r.waiters.empty()) continue;
      Promote(r);
      UpdateIdle(r);
    }
  }
}

Resource* Engine::Find(Namespace ns, std::string_view key) {
  auto& map = resources_[static_cast<int>(ns)];
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

Result<Resource*> Engine::FindOrCreate(Namespace ns, const std::string& key, std::uint32_t limit) {
  if (Resource* r = Find(ns, key)) {
    if (r->limit != limit) return ErrorCode::kLimitMismatch;
    EvictExpired(*r);
    return r;
  }
  if (resource_count() >= config_.max_locks) return ErrorCode::kMaxLocks;
  auto& map = resources_[static_cast<int>(ns)];
  auto [it, inserted] = map.try_emplace(key);
  Resource& r = it->second;
  r.key = &it->first;
  r.ns = ns;
  r.limit = limit;
  return &r;
}

Holder* Engine::FindHolder(Resource& r, const Token& token) {
  for (Holder* h : r.holders) {
    if (h->token == token) return h;
  }
  return nullptr;
}

Granted Engine::Grant(Resource& r, SessionState* owner, SessionId owner_id,
                      std::int64_t lease_s, std::int64_t lock_delay_s) {
  Holder* h = holders_.Acquire();
  h->resource = &r;
  h->owner = owner;
  h->owner_id = owner_id;
  h->token = tokens_.Next();
  h->lease_s = lease_s;
  h->lock_delay_s = lock_delay_s;
  if (owner != nullptr) owner->holds.push_back(h);
  r.holders.push_back(h);
  deadlines_.Schedule(h, AddSaturating(Now(), Seconds(lease_s)));
  ++counters_.grants;
  if (journal_ != nullptr) JournalHold(*h);
  if (!watchers_.empty()) EmitHold(WatchEvent::Kind::kGranted, *h, {});
  return Granted{h->token, lease_s};
}

void Engine::JournalHold(const Holder& h) {
  const Resource& r = *h.resource;
  journal_->Held(HoldRecord{r.ns, *r.key, r.limit, h.token, h.lease_s, h.lock_delay_s, h.deadline});
}

void Engine::RemoveHolder(Holder* h, std::string_view why) {
  if (journal_ != nullptr) journal_->Dropped(h->token);
  if (!watchers_.empty()) EmitHold(WatchEvent::Kind::kReleased, *h, why);
  Resource& r = *h->resource;
  auto it = std::find(r.holders.begin(), r.holders.end(), h);
  if (it != r.holders.end()) {
    *it = r.holders.back();
    r.holders.pop_back();
  }
  if (h->owner != nullptr) {
    h->owner->holds.remove(h);
    if (h->awaiting_wait) {
      // A phase-1 grant nobody collected: its Wait must now see the lease gone.
      auto tp = h->owner->two_phase.find(TwoPhaseKey(r.ns, *r.key));
      if (tp != h->owner->two_phase.end() && tp->second.holder == h) tp->second.holder = nullptr;
    }
  }
  deadlines_.Remove(h);
  holders_.Release(h);
}

void Engine::RemoveWaiter(Waiter* w, std::string_view why) {
  if (!watchers_.empty()) EmitWaiter(WatchEvent::Kind::kLeft, *w, why);
  w->resource->waiters.remove(w);
  if (w->session != nullptr) {
    w->session->waiters.remove(w);
    if (w->two_phase) w->session->two_phase.erase(TwoPhaseKey(w->resource->ns, *w->resource->key));
  }
  deadlines_.Remove(w);
  waiters_.Release(w);
}

void Engine::EvictExpired(Resource& r) {
  TimePoint now = Now();
  bool evicted = false;
  for (std::size_t i = 0; i < r.holders.size();) {
    Holder* h = r.holders[i];
    if (h->deadline <= now) {
      ++counters_.expiries;
      const TimePoint expired_at = h->deadline;
      const std::int64_t delay_s = h->lock_delay_s;
      const Token token = h->token;
      RemoveHolder(h, "expired");  // swaps the last holder into slot i
      StartDelay(r, delay_s, expired_at, token);
      evicted = true;
    } else {
      ++i;
    }
  }
  if (evicted) Promote(r);
}

Result<Granted> Engine::GrantNow(Resource& r, SessionState* s, std::int64_t lease_s,
                                 std::int64_t lock_delay_s) {
  if (!FenceReady()) {
    ++counters_.fence_refusals;
    return ErrorCode::kFenceUnavailable;
  }
  return Grant(r, s, s != nullptr ? s->id : 0, lease_s, lock_delay_s);
}

void Engine::GrantToWaiter(Waiter* w) {
  Resource& r = *w->resource;
  SessionState* s = w->session;
  Completion done = std::move(w->done);
  bool phase_one = w->two_phase && !done;
  std::int64_t lease_s = w->lease_s;
  std::int64_t lock_delay_s = w->lock_delay_s;
  std::string two_phase_key = w->two_phase ? TwoPhaseKey(r.ns, *r.key) : std::string();
  bool two_phase = w->two_phase;
  w->two_phase = false;  // keep RemoveWaiter from dropping the state we update below
  RemoveWaiter(w, "granted");
  Granted g = Grant(r, s, s != nullptr ? s->id : 0, lease_s, lock_delay_s);
  if (phase_one) {
    // Granted before Wait: the lease runs from now; Wait will report it.
    Holder* h = r.holders.back();
    h->awaiting_wait = true;
    s->two_phase[two_phase_key] = TwoPhase{nullptr, h, h->token};
    return;
  }
  if (two_phase) s->two_phase.erase(two_phase_key);
  done(Reply{std::move(g)});
}

void Engine::Promote(Resource& r) {
  while (HasRoom(r) && !r.waiters.empty()) {
    if (!FenceReady()) return;  // no unpersisted fence: the waiters keep their places
    GrantToWaiter(r.waiters.front());
  }
}

void Engine::UpdateIdle(Resource& r) {
  if (r.idle()) {
    if (!decltype(idle_)::linked(&r)) {
      r.idle_since = Now();
      idle_.push_back(&r);
    }
  } else {
    idle_.remove(&r);
  }
}

void Engine::ExpireLease(Holder* h) {
  Resource& r = *h->resource;
  ++counters_.expiries;
  const TimePoint expired_at = h->deadline;
  const std::int64_t delay_s = h->lock_delay_s;
  const Token token = h->token;
  RemoveHolder(h, "expired");
  StartDelay(r, delay_s, expired_at, token);  // the holder may only be paused, not gone
  Promote(r);
  UpdateIdle(r);
}

void Engine::TimeOutWait(Waiter* w) {
  Resource& r = *w->resource;
  Completion done = std::move(w->done);
  RemoveWaiter(w, "timeout");
  ++counters_.timeouts;
  Promote(r);
  UpdateIdle(r);
  if (done) done(ErrorCode::kTimeout);
}

void Engine::CollectGarbage() {
  TimePoint now = Now();
  while (Resource* r = idle_.front()) {
    if (now - r->idle_since < config_.gc_max_idle) break;  // the rest went idle later
    idle_.remove(r);
    auto& map = resources_[static_cast<int>(r->ns)];
    map.erase(map.find(*r->key));
  }
}

Result<Waiter*> Engine::AddWaiter(Resource& r, SessionState* s, std::int64_t lease_s,
                                  std::int64_t lock_delay_s, bool two_phase) {
  if (config_.max_waiters != 0 && r.waiters.size() >= config_.max_waiters) {
    return ErrorCode::kMaxWaiters;
  }
  Waiter* w = waiters_.Acquire();
  w->resource = &r;
  w->session = s;
  w->lease_s = lease_s;
  w->lock_delay_s = lock_delay_s;
  w->two_phase = two_phase;
  w->since = Now();
  r.waiters.push_back(w);
  if (s != nullptr) s->waiters.push_back(w);
  UpdateIdle(r);
  if (!watchers_.empty()) EmitWaiter(WatchEvent::Kind::kQueued, *w, {});
  return w;
}

Result<Reply> Engine::DoAcquire(SessionState* s, Acquire& cmd, Completion& done, RequestId& id) {
  auto found = FindOrCreate(cmd.ns, cmd.key, cmd.limit);
  if (!found) return found.error();
  Resource& r = *found.value();
  std::int64_t lease_s = LeaseOrDefault(cmd.lease_s);
  std::int64_t lock_delay_s = LockDelayOrDefault(cmd.lock_delay_s);
  if (HasRoom(r) && r.waiters.empty()) {
    auto g = GrantNow(r, s, lease_s, lock_delay_s);
    UpdateIdle(r);
    if (!g) return g.error();
    return Reply{std::move(g.value())};
  }
  if (cmd.timeout_s == 0) {
    ++counters_.timeouts;
    UpdateIdle(r);  // a key created by this try (in a grace) must still be collected
    return ErrorCode::kTimeout;
  }
  auto queued = AddWaiter(r, s, lease_s, lock_delay_s, /*two_phase=*/false);
  if (!queued) return queued.error();
  Waiter* w = queued.value();
  w->done = std::move(done);
  deadlines_.Schedule(w, AddSaturating(Now(), Seconds(cmd.timeout_s)));
  id = HandleOf(w);
  return ErrorCode::kCancelled;  // unused: the waiter answers later
}

Result<Reply> Engine::DoEnqueue(SessionState* s, Enqueue& cmd) {
  std::string tp_key = TwoPhaseKey(cmd.ns, cmd.key);
  if (auto it = s->two_phase.find(tp_key); it != s->two_phase.end()) {
    // A grant that expired uncollected no longer blocks a fresh enqueue.
    if (it->second.waiter != nullptr || it->second.holder != nullptr) {
      return ErrorCode::kAlreadyEnqueued;
    }
    s->two_phase.erase(it);
  }
  auto found = FindOrCreate(cmd.ns, cmd.key, cmd.limit);
  if (!found) return found.error();
  Resource& r = *found.value();
  std::int64_t lease_s = LeaseOrDefault(cmd.lease_s);
  std::int64_t lock_delay_s = LockDelayOrDefault(cmd.lock_delay_s);
  if (HasRoom(r) && r.waiters.empty()) {
    auto g = GrantNow(r, s, lease_s, lock_delay_s);
    if (g) {
      Holder* h = r.holders.back();
      h->awaiting_wait = true;
      s->two_phase.emplace(std::move(tp_key), TwoPhase{nullptr, h, h->token});
    }
    UpdateIdle(r);
    if (!g) return g.error();
    return Reply{std::move(g.value())};
  }
  auto queued = AddWaiter(r, s, lease_s, lock_delay_s, /*two_phase=*/true);
  if (!queued) return queued.error();
  s->two_phase.emplace(std::move(tp_key), TwoPhase{queued.value(), nullptr, {}});
  return Reply{Queued{}};
}

Result<Reply> Engine::DoWait(SessionState* s, Wait& cmd, Completion& done, RequestId& id) {
  auto it = s->two_phase.find(TwoPhaseKey(cmd.ns, cmd.key));
  if (it == s->two_phase.end()) return ErrorCode::kNotEnqueued;
  TwoPhase state = it->second;
  if (state.waiter == nullptr) {
    s->two_phase.erase(it);  // Wait consumes the state, whatever it reports
    Holder* h = state.holder;
    if (h == nullptr || !(h->token == state.token) || h->deadline <= Now()) {
      return ErrorCode::kLeaseExpired;
    }
    h->awaiting_wait = false;
    deadlines_.Schedule(h, AddSaturating(Now(), Seconds(h->lease_s)));
    if (journal_ != nullptr) JournalHold(*h);
    return Reply{Granted{h->token, h->lease_s}};
  }
  Waiter* w = state.waiter;
  if (w->done) return ErrorCode::kInvalid;  // a Wait is already attached
  if (cmd.timeout_s == 0) {
    Resource& r = *w->resource;
    RemoveWaiter(w, "timeout");  // also erases the two-phase state
    ++counters_.timeouts;
    UpdateIdle(r);
    return ErrorCode::kTimeout;
  }
  w->done = std::move(done);
  deadlines_.Schedule(w, AddSaturating(Now(), Seconds(cmd.timeout_s)));
  id = HandleOf(w);
  return ErrorCode::kCancelled;  // unused: the waiter answers later
}

Result<Holder*> Engine::FindLiveHolder(Namespace ns, const std::string& key,
                                        const TokenArg& token) {
  if (!token) return ErrorCode::kInvalid;
  Resource* r = Find(ns, key);
  if (r == nullptr) return ErrorCode::kNotHeld;
  EvictExpired(*r);  // an expired token holds nothing; its capacity moves on now
  Holder* h = FindHolder(*r, *token);
  if (h == nullptr) {
    UpdateIdle(*r);
    return ErrorCode::kNotHeld;
  }
  return h;
}

Result<Reply> Engine::DoRelease(Release& cmd) {
  auto found = FindLiveHolder(cmd.ns, cmd.key, cmd.token);
  if (!found) return found.error();
  Holder* h = found.value();
  Resource* r = h->resource;
  if (h->owner != nullptr && h->awaiting_wait) {
    h->owner->two_phase.erase(TwoPhaseKey(r->ns, *r->key));  // release clears phase-1 state
    h->awaiting_wait = false;
  }
  RemoveHolder(h, "released");
  Promote(*r);
  UpdateIdle(*r);
  return Reply{Ack{}};
}

Result<Reply> Engine::DoRenew(SessionState* s, Renew& cmd) {
  auto found = FindLiveHolder(cmd.ns, cmd.key, cmd.token);
  if (!found) return found.error();
  Holder* h = found.value();
  if (h->orphaned && s != nullptr) {
    // A hold that outlived a failover is adopted by the session that renews it: it
    // auto-releases with that session from now on, like any hold it was granted.
    h->orphaned = false;
    h->owner = s;
    h->owner_id = s->id;
    s->holds.push_back(h);
  }
  h->lease_s = LeaseOrDefault(cmd.lease_s);
  deadlines_.Schedule(h, AddSaturating(Now(), Seconds(h->lease_s)));
  if (journal_ != nullptr) JournalHold(*h);
  return Reply{Renewed{h->lease_s}};
}

Result<Resource*> Engine::FindOrCreateUncapped(Namespace ns, std::string_view key,
                                              std::uint32_t limit) {
  auto& map = resources_[static_cast<int>(ns)];
  auto [it, inserted] = map.try_emplace(std::string(key));
  Resource& r = it->second;
  if (inserted) {
    r.key = &it->first;
    r.ns = ns;
    r.limit = limit;
  } else if (r.limit != limit) {
    return ErrorCode::kLimitMismatch;
  }
  return &r;
}

Result<Ack> Engine::Restore(const HoldRecord& hold) {
  auto found = FindOrCreateUncapped(hold.ns, hold.key, hold.limit);
  if (!found) return found.error();
  Resource& r = *found.value();
  if (FindHolder(r, hold.token) != nullptr) return ErrorCode::kInvalid;
  Holder* h = holders_.Acquire();
  h->resource = &r;
  h->token = hold.token;
  h->lease_s = hold.lease_s;
  h->lock_delay_s = hold.lock_delay_s;
  h->orphaned = true;
  r.holders.push_back(h);
  // A full lease from now: the holder may have renewed just before the failover, and
  // a lease must never end earlier than its holder was told.
  deadlines_.Schedule(h, AddSaturating(Now(), Seconds(hold.lease_s)));
  UpdateIdle(r);
  if (!watchers_.empty()) EmitHold(WatchEvent::Kind::kGranted, *h, {});
  return Ack{};
}

Result<Ack> Engine::RestoreDelay(const DelayRecord& delay, std::int64_t delay_s) {
  auto found = FindOrCreateUncapped(delay.ns, delay.key, delay.limit);
  if (!found) return found.error();
  Resource& r = *found.value();
  Journal* journal = std::exchange(journal_, nullptr);  // it is in the store already
  StartDelay(r, delay_s, Now(), delay.token);
  journal_ = journal;
  UpdateIdle(r);
  return Ack{};
}

}  // namespace dflockd::core
