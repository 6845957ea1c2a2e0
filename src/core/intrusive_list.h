// A doubly linked list threaded through its elements (no allocation, O(1) unlink).
// An element can sit in several lists at once, one ListHook member per list.
#pragma once

#include <cassert>
#include <cstddef>

namespace dflockd::core {

template <typename T>
struct ListHook {
  T* prev = nullptr;
  T* next = nullptr;
  bool linked = false;
};

template <typename T, ListHook<T> T::*kHook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const { return head_ == nullptr; }
  std::size_t size() const { return size_; }
  T* front() const { return head_; }
  static T* next(const T* item) { return (item->*kHook).next; }
  static bool linked(const T* item) { return (item->*kHook).linked; }

  void push_back(T* item) {
    ListHook<T>& h = item->*kHook;
    assert(!h.linked);
    h.prev = tail_;
    h.next = nullptr;
    h.linked = true;
    if (tail_ != nullptr) {
      (tail_->*kHook).next = item;
    } else {
      head_ = item;
    }
    tail_ = item;
    ++size_;
  }

  void remove(T* item) {
    ListHook<T>& h = item->*kHook;
    if (!h.linked) return;
    if (h.prev != nullptr) {
      (h.prev->*kHook).next = h.next;
    } else {
      head_ = h.next;
    }
    if (h.next != nullptr) {
      (h.next->*kHook).prev = h.prev;
    } else {
      tail_ = h.prev;
    }
    h = ListHook<T>{};
    --size_;
  }

  T* pop_front() {
    T* item = head_;
    if (item != nullptr) remove(item);
    return item;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace dflockd::core
