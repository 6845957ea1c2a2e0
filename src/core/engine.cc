// Engine: sessions, command dispatch, timers and shutdown.
#include "core/engine.h"

#include <algorithm>
#include <utility>

#include "core/validation.h"
#include "core/overloaded.h"

namespace dflockd::core {

Engine::Engine(EngineConfig config, const Clock& clock, TokenSource& tokens)
    : config_(config),
      clock_(clock),
      tokens_(tokens),
      grace_until_(AddSaturating(clock.Now(), config.restart_grace)),
      grace_pending_(config.restart_grace > Duration::zero()),
      next_gc_(AddSaturating(clock.Now(), config.gc_interval)) {}

Engine::~Engine() {
  // Unlink everything so no completion outlives the engine unrun.
  watchers_.clear();  // their sinks may be gone already; nobody watches a teardown
  while (!sessions_.empty()) CloseSession(sessions_.begin()->first);
}

SessionId Engine::OpenSession(SessionSink* sink) {
  const SessionId id = next_session_id_++;
  SessionState& state = sessions_.try_emplace(id).first->second;
  state.id = id;
  state.subscriber.sink = sink;
  state.subscriber.id = id;
  return id;
}

SessionState* Engine::FindSession(SessionId id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

void Engine::CloseSession(SessionId session) {
  CallScope call(*this);
  SessionState* s = FindSession(session);
  if (s == nullptr) return;
  CloseSessionState(s);
}

void Engine::CloseSessionState(SessionState* s) {
  Unsubscribe(s);
  s->two_phase.clear();
  // Remove everything of this session before handing capacity on, so no grant goes
  // to a waiter of the closing session.
  std::vector<Completion> cancelled;
  std::vector<Resource*> touched;
  while (Waiter* w = s->waiters.front()) {
    if (w->done) cancelled.push_back(std::move(w->done));
    w->two_phase = false;  // the whole map is already gone
    touched.push_back(w->resource);
    RemoveWaiter(w, "disconnected");
  }
  const TimePoint now = Now();
  while (Holder* h = s->holds.front()) {
    h->awaiting_wait = false;
    if (config_.auto_release_on_disconnect) {
      // Freed without a release: the holder may still be at work (lock-delay).
      Resource& r = *h->resource;
      const std::int64_t delay_s = h->lock_delay_s;
      const Token token = h->token;
      touched.push_back(&r);
      RemoveHolder(h, "disconnected");
      StartDelay(r, delay_s, now, token);
    } else {
      // The hold outlives its connection until it is released by token or expires.
      s->holds.remove(h);
      h->owner = nullptr;
    }
  }
  sessions_.erase(s->id);  // destroys s
  for (Resource* r : touched) {
    Promote(*r);
    UpdateIdle(*r);
  }
  for (auto& done : cancelled) done(ErrorCode::kCancelled);
}

RequestId Engine::Submit(SessionId session, Command command, Completion done) {
  CallScope call(*this);
  if (draining_) {
    done(ErrorCode::kDraining);
    return kNoRequest;
  }
  SessionState* s = nullptr;
  if (session != 0) {
    s = FindSession(session);
    if (s == nullptr) {
      done(ErrorCode::kCancelled);
      return kNoRequest;
    }
  }
  if (!IsValid(command) || !WithinMaxLease(command)) {
    done(ErrorCode::kInvalid);
    return kNoRequest;
  }
  RequestId parked = kNoRequest;
  auto needs_session = [s](auto&& f) -> Result<Reply> {
    if (s == nullptr) return ErrorCode::kInvalid;
    return f();
  };
  Result<Reply> result = std::visit(
      Overloaded{
          [&](Acquire& c) { return DoAcquire(s, c, done, parked); },
          [&](Enqueue& c) { return needs_session([&] { return DoEnqueue(s, c); }); },
          [&](Wait& c) { return needs_session([&] { return DoWait(s, c, done, parked); }); },
          [&](Release& c) { return DoRelease(c); },
          [&](Renew& c) { return DoRenew(s, c); },
          [&](Listen& c) { return needs_session([&] { return DoListen(s, c); }); },
          [&](Unlisten& c) { return needs_session([&] { return DoUnlisten(s, c); }); },
          [&](Publish& c) { return DoPublish(c); },
          [&](Ping&) -> Result<Reply> { return Reply{Ack{}}; },
          [&](Stats&) -> Result<Reply> { return Reply{Snapshot()}; },
      },
      command);
  if (parked != kNoRequest) return parked;  // `done` now belongs to a waiter
  done(std::move(result));
  return kNoRequest;
}

void Engine::Cancel(RequestId request) {
  CallScope call(*this);
  auto slot = static_cast<std::uint32_t>(request & 0xffffffffu) - 1;
  auto generation = static_cast<std::uint32_t>(request >> 32);
  Waiter* w = waiters_.Find(slot, generation);
  if (w == nullptr || !w->done) return;  // already completed
  Completion done = std::move(w->done);
  Resource* r = w->resource;
  RemoveWaiter(w, "cancelled");
  Promote(*r);
  UpdateIdle(*r);
  done(ErrorCode::kCancelled);
}

RequestId Engine::HandleOf(const Waiter* w) const {
  return (static_cast<RequestId>(w->generation) << 32) | (static_cast<RequestId>(w->slot) + 1);
}

void Engine::Tick() {
  CallScope call(*this);
  const TimePoint now = Now();
  while (Timed* t = deadlines_.PopDue(now)) {
    if (t->kind == kLease) {
      ExpireLease(static_cast<Holder*>(t));
    } else if (t->kind == kLockDelay) {
      EndDelay(static_cast<DelayedSlot*>(t));
    } else {
      TimeOutWait(static_cast<Waiter*>(t));
    }
  }
  if (grace_pending_ && now >= grace_until_) {
    grace_pending_ = false;
    PromoteAll();
  }
  if (fence_retry_ <= now) {
    fence_retry_ = kNever;
    PromoteAll();  // FenceReady() schedules the next retry if the store still fails
  }
  if (now >= next_gc_) {
    CollectGarbage();
    next_gc_ = AddSaturating(now, config_.gc_interval);
  }
}

TimePoint Engine::NextDeadline() const {
  TimePoint next = std::min(deadlines_.Next(), next_gc_);
  if (grace_pending_) next = std::min(next, grace_until_);
  return std::min(next, fence_retry_);
}

bool Engine::WithinMaxLease(const Command& command) const {
  if (config_.max_lease_s == 0) return true;
  auto within = [&](const std::optional<std::int64_t>& v) {
    return !v || *v <= config_.max_lease_s;
  };
  return std::visit(Overloaded{
                        [&](const Acquire& c) { return within(c.lease_s) && within(c.lock_delay_s); },
                        [&](const Enqueue& c) { return within(c.lease_s) && within(c.lock_delay_s); },
                        [&](const Renew& c) { return within(c.lease_s); },
                        [](const auto&) { return true; },
                    },
                    command);
}

void Engine::Reset(ErrorCode why) {
  Journal* journal = std::exchange(journal_, nullptr);
  std::vector<Completion> failed;
  for (auto& map : resources_) {
    for (auto& [key, r] : map) {
      while (Waiter* w = r.waiters.front()) {
        if (w->done) failed.push_back(std::move(w->done));
        w->two_phase = false;  // the sessions' maps are cleared below
        RemoveWaiter(w, "reset");
      }
      while (!r.holders.empty()) RemoveHolder(r.holders.back(), "reset");
      idle_.remove(&r);
    }
  }
  // Only lock-delays are left in the deadline queue now.
  while (Timed* t = deadlines_.PopDue(kNever)) delays_.Release(static_cast<DelayedSlot*>(t));
  keys_in_delay_ = 0;
  for (auto& map : resources_) map.clear();
  for (auto& [id, s] : sessions_) s.two_phase.clear();
  fences_down_ = false;
  fence_retry_ = kNever;
  journal_ = journal;
  for (auto& done : failed) done(why);
}

void Engine::BeginDrain() {
  if (draining_) return;
  draining_ = true;
  std::vector<Completion> cancelled;
  for (auto& map : resources_) {
    for (auto& [key, r] : map) {
      while (Waiter* w = r.waiters.front()) {
        if (w->done) cancelled.push_back(std::move(w->done));
        RemoveWaiter(w, "draining");
      }
      UpdateIdle(r);
    }
  }
  for (auto& [id, s] : sessions_) s.two_phase.clear();
  for (auto& done : cancelled) done(ErrorCode::kDraining);
}

}  // namespace dflockd::core
