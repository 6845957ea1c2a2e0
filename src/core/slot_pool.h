// Recycles objects in stable storage so hot-path grants and waits do not allocate
// once the pool has warmed up. Each object gets a slot number and a generation that
// changes on every reuse, so a stale handle (slot, generation) can be detected.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

namespace dflockd::core {

/// T must have public members `std::uint32_t slot` and `std::uint32_t generation`
/// and a `Reset()` that returns it to a clean state.
template <typename T>
class SlotPool {
 public:
  T* Acquire() {
    T* item;
    if (!free_.empty()) {
      item = &items_[free_.back()];
      free_.pop_back();
    } else {
      items_.emplace_back();
      item = &items_.back();
      item->slot = static_cast<std::uint32_t>(items_.size() - 1);
    }
    ++item->generation;
    return item;
  }

  void Release(T* item) {
    item->Reset();
    ++item->generation;  // odd while in use, even while free
    free_.push_back(item->slot);
  }

  /// The live object for a handle, or nullptr if the handle is stale.
  T* Find(std::uint32_t slot, std::uint32_t generation) {
    if (slot >= items_.size()) return nullptr;
    T* item = &items_[slot];
    return item->generation == generation && (generation & 1u) ? item : nullptr;
  }

  std::size_t live() const { return items_.size() - free_.size(); }

 private:
  std::deque<T> items_;
  std::vector<std::uint32_t> free_;
};

}  // namespace dflockd::core
