// Engine: the stats snapshot (§6 of the protocol).
#include <algorithm>

#include "core/engine.h"

namespace dflockd::core {
namespace {

template <typename T>
void SortByKey(std::vector<T>& v) {
  std::sort(v.begin(), v.end(), [](const T& a, const T& b) { return a.key < b.key; });
}

}  // namespace

StatsSnapshot Engine::Snapshot() const {
  StatsSnapshot out;
  TimePoint now = Now();
  out.connections = sessions_.size();
  for (const auto& map : resources_) {
    for (const auto& [key, r] : map) {
      const bool is_lock = r.limit == 1;
      if (r.idle()) {
        (is_lock ? out.idle_locks : out.idle_semaphores)
            .push_back({key, SecondsBetween(r.idle_since, now)});
      } else if (is_lock) {
        StatsSnapshot::Lock lock{key, 0, 0, r.waiters.size()};
        if (!r.holders.empty()) {
          lock.owner_session = r.holders.front()->owner_id;
          lock.lease_expires_in_s = SecondsBetween(now, r.holders.front()->deadline);
        }
        if (r.delayed != 0) lock.lock_delay_remaining_s = SecondsBetween(now, r.delayed_until);
        out.locks.push_back(std::move(lock));
      } else {
        StatsSnapshot::Semaphore sem{key, r.limit, r.holders.size(), r.waiters.size()};
        sem.delayed = r.delayed;
        if (r.delayed != 0) sem.lock_delay_remaining_s = SecondsBetween(now, r.delayed_until);
        out.semaphores.push_back(std::move(sem));
      }
    }
  }
  out.keys_in_lock_delay = keys_in_delay_;
  if (in_restart_grace()) out.restart_grace_remaining_s = SecondsBetween(now, grace_until_);
  out.fences_unavailable = !fences_available();
  SortByKey(out.locks);
  SortByKey(out.semaphores);
  SortByKey(out.idle_locks);
  SortByKey(out.idle_semaphores);
  for (auto& e : subscriptions_.Entries()) {
    out.signal_channels.push_back({std::move(e.pattern), std::move(e.group), e.listeners});
  }
  std::sort(out.signal_channels.begin(), out.signal_channels.end(), [](auto& a, auto& b) {
    return std::tie(a.pattern, a.group) < std::tie(b.pattern, b.group);
  });
  return out;
}

}  // namespace dflockd::core
