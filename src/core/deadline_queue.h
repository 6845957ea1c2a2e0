// A min-heap of deadlines whose entries know their own position, so a deadline can
// be moved or removed in O(log n) without searching. Lease expiries and wait
// timeouts both live here; one timer armed at Next() drives them all.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/clock.h"

namespace dflockd::core {

/// Embed in anything that needs a deadline.
struct Timed {
  static constexpr std::size_t kNotQueued = static_cast<std::size_t>(-1);
  TimePoint deadline = kNever;
  std::size_t heap_index = kNotQueued;
  std::uint8_t kind = 0;  ///< lets the owner of the queue tell its record types apart
  bool queued() const { return heap_index != kNotQueued; }
};

class DeadlineQueue {
 public:
  /// Insert `t`, or move it if it is already queued.
  void Schedule(Timed* t, TimePoint when) {
    if (t->queued()) {
      TimePoint old = t->deadline;
      t->deadline = when;
      if (when < old) {
        SiftUp(t->heap_index);
      } else {
        SiftDown(t->heap_index);
      }
      return;
    }
    t->deadline = when;
    t->heap_index = heap_.size();
    heap_.push_back(t);
    SiftUp(t->heap_index);
  }

  void Remove(Timed* t) {
    if (!t->queued()) return;
    std::size_t i = t->heap_index;
    t->heap_index = Timed::kNotQueued;
    Timed* last = heap_.back();
    heap_.pop_back();
    if (last == t) return;
    heap_[i] = last;
    last->heap_index = i;
    SiftUp(i);
    SiftDown(last->heap_index);
  }

  TimePoint Next() const { return heap_.empty() ? kNever : heap_.front()->deadline; }

  /// Removes and returns the earliest entry if it is due at `now`, else nullptr.
  Timed* PopDue(TimePoint now) {
    if (heap_.empty() || heap_.front()->deadline > now) return nullptr;
    Timed* t = heap_.front();
    Remove(t);
    return t;
  }

  std::size_t size() const { return heap_.size(); }

 private:
  void Place(std::size_t i, Timed* t) {
    heap_[i] = t;
    t->heap_index = i;
  }
  void SiftUp(std::size_t i) {
    Timed* t = heap_[i];
    while (i > 0) {
      std::size_t parent = (i - 1) / 2;
      if (!(t->deadline < heap_[parent]->deadline)) break;
      Place(i, heap_[parent]);
      i = parent;
    }
    Place(i, t);
  }
  void SiftDown(std::size_t i) {
    Timed* t = heap_[i];
    const std::size_t n = heap_.size();
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap_[child + 1]->deadline < heap_[child]->deadline) ++child;
      if (!(heap_[child]->deadline < t->deadline)) break;
      Place(i, heap_[child]);
      i = child;
    }
    Place(i, t);
  }

  std::vector<Timed*> heap_;
};

}  // namespace dflockd::core
