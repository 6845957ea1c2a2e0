// Engine: watches (core/watch.h) — the snapshot a new watcher gets and the events
// every change emits. Hooks elsewhere in the engine call Emit* only while someone
// watches.
#include <algorithm>

#include "core/engine.h"
#include "core/subject.h"

namespace dflockd::core {

const char* ToString(WatchEvent::Kind kind) {
  switch (kind) {
    case WatchEvent::Kind::kHeld: return "held";
    case WatchEvent::Kind::kWaiting: return "waiting";
    case WatchEvent::Kind::kDelayed: return "delayed";
    case WatchEvent::Kind::kSnapshotDone: return "snapshot_done";
    case WatchEvent::Kind::kGranted: return "granted";
    case WatchEvent::Kind::kReleased: return "released";
    case WatchEvent::Kind::kQueued: return "queued";
    case WatchEvent::Kind::kLeft: return "left";
    case WatchEvent::Kind::kDelayStarted: return "delay_started";
    case WatchEvent::Kind::kDelayEnded: return "delay_ended";
  }
  return "unknown";
}

void Engine::DescribeSession(SessionId session, SessionInfo info) {
  if (SessionState* s = FindSession(session)) s->info = std::move(info);
}

Result<WatchId> Engine::Watch(std::string pattern, WatchSink* sink) {
  if (!IsValidPattern(pattern)) return ErrorCode::kInvalid;
  const WatchId id = next_watch_id_++;
  watchers_.push_back(Watcher{id, std::move(pattern), sink});
  // The snapshot, keys in order (locks first), each key's waiters in FIFO order.
  const std::string& p = watchers_.back().pattern;
  std::vector<const Resource*> matching;
  for (const auto& map : resources_) {
    for (const auto& [key, r] : map) {
      if (!r.idle() && SubjectMatches(p, key)) matching.push_back(&r);
    }
  }
  std::sort(matching.begin(), matching.end(), [](const Resource* a, const Resource* b) {
    return std::tie(a->ns, *a->key) < std::tie(b->ns, *b->key);
  });
  const TimePoint now = Now();
  bool ok = true;
  for (const Resource* r : matching) {
    for (const Holder* h : r->holders) {
      ok = ok && sink->Deliver(HoldEvent(WatchEvent::Kind::kHeld, *h, {}, now));
    }
    for (const Waiter* w = r->waiters.front(); w != nullptr; w = WaiterQueue::next(w)) {
      ok = ok && sink->Deliver(WaiterEvent(WatchEvent::Kind::kWaiting, *w, {}, now));
    }
    if (r->delayed != 0) {
      WatchEvent e = ResourceEvent(WatchEvent::Kind::kDelayed, *r);
      e.count = r->delayed;
      e.remaining_s = SecondsBetween(now, r->delayed_until);
      ok = ok && sink->Deliver(e);
    }
  }
  ok = ok && sink->Deliver(WatchEvent{});  // kSnapshotDone
  if (!ok) {
    Unwatch(id);
    sink->WatchEvicted();
  }
  return id;
}

void Engine::Unwatch(WatchId id) {
  std::erase_if(watchers_, [id](const Watcher& w) { return w.id == id; });
}

WatchEvent Engine::ResourceEvent(WatchEvent::Kind kind, const Resource& r) const {
  WatchEvent e;
  e.kind = kind;
  e.ns = r.ns;
  e.key = *r.key;
  e.limit = r.limit;
  return e;
}

WatchEvent Engine::HoldEvent(WatchEvent::Kind kind, const Holder& h, std::string_view reason,
                             TimePoint now) const {
  WatchEvent e = ResourceEvent(kind, *h.resource);
  e.fence = h.token.fence;
  e.lease_s = h.lease_s;
  e.remaining_s = SecondsBetween(now, h.deadline);
  e.session = h.owner_id;
  e.info = h.owner != nullptr ? &h.owner->info : nullptr;
  e.reason = reason;
  return e;
}

WatchEvent Engine::WaiterEvent(WatchEvent::Kind kind, const Waiter& w, std::string_view reason,
                               TimePoint now) const {
  WatchEvent e = ResourceEvent(kind, *w.resource);
  e.session = w.session != nullptr ? w.session->id : 0;
  e.info = w.session != nullptr ? &w.session->info : nullptr;
  e.waited_s = SecondsBetween(w.since, now);
  e.waiter = HandleOf(&w);
  e.reason = reason;
  return e;
}

void Engine::Notify(const WatchEvent& e) {
  // A sink may not call back into the engine, so the list is stable while we deliver;
  // full sinks are dropped after the loop.
  std::vector<WatchSink*> evicted;
  for (auto it = watchers_.begin(); it != watchers_.end();) {
    const bool matches = it->pattern == ">" || SubjectMatches(it->pattern, e.key);
    if (matches && !it->sink->Deliver(e)) {
      evicted.push_back(it->sink);
      it = watchers_.erase(it);
    } else {
      ++it;
    }
  }
  for (WatchSink* sink : evicted) sink->WatchEvicted();
}

void Engine::EmitHold(WatchEvent::Kind kind, const Holder& h, std::string_view reason) {
  Notify(HoldEvent(kind, h, reason, Now()));
}

void Engine::EmitWaiter(WatchEvent::Kind kind, const Waiter& w, std::string_view reason) {
  Notify(WaiterEvent(kind, w, reason, Now()));
}

void Engine::EmitDelay(WatchEvent::Kind kind, const Resource& r, TimePoint until) {
  WatchEvent e = ResourceEvent(kind, r);
  e.count = 1;
  e.remaining_s = SecondsBetween(Now(), until);
  Notify(e);
}

}  // namespace dflockd::core
