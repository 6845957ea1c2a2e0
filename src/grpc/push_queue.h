// The write side of a server stream: one write in flight, a queue behind it, and a
// bound on how many pushed signals may wait (responses are not bounded: a session
// has at most one outstanding request).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

namespace dflockd::grpc_api {

template <typename Message>
class PushQueue {
 public:
  /// `start_write` starts a gRPC write of the message (StartWrite on the reactor).
  template <typename StartWrite>
  bool Enqueue(Message message, bool is_push, std::size_t max_pushes, StartWrite start_write) {
    Message* front = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_ || finish_) return false;
      if (is_push && pushes_ >= max_pushes) return false;
      queue_.push_back(Entry{std::move(message), is_push});
      if (is_push) ++pushes_;
      if (writing_) return true;
      writing_ = true;
      front = &queue_.front().message;
    }
    start_write(front);  // outside the lock: gRPC may react on this thread
    return true;
  }

  /// The whole reaction to OnWriteDone(ok): start the next queued write, or finish
  /// the stream once the queue has drained, or (a broken stream) finish with any
  /// status that was waiting.
  template <typename StartWrite, typename FinishStream>
  void AfterWrite(bool ok, StartWrite start_write, FinishStream finish) {
    if (!ok) {
      if (auto pending = Close()) finish(*pending);
      return;  // OnCancel follows
    }
    auto next = WriteDone();
    if (next.write != nullptr) start_write(next.write);
    if (next.finish) finish(*next.finish);
  }

  /// What to do after OnWriteDone(true): write `write`, or finish with `finish`, or
  /// nothing (both empty).
  struct Next {
    Message* write = nullptr;
    std::optional<::grpc::Status> finish;
  };

  Next WriteDone() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!queue_.empty()) {
      if (queue_.front().is_push) --pushes_;
      queue_.pop_front();
    }
    Next next;
    if (!queue_.empty() && !closed_) {
      next.write = &queue_.front().message;
      return next;
    }
    writing_ = false;
    if (finish_ && !closed_) {
      next.finish = std::move(finish_);
      finish_.reset();
      closed_ = true;
    }
    return next;
  }

  /// Accept nothing more; finish with `status` once what is queued has been written.
  /// Returns the status if the caller should finish now (nothing left to write).
  std::optional<::grpc::Status> FinishWhenDrained(::grpc::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || finish_) return std::nullopt;  // already finishing
    if (!writing_) {
      closed_ = true;
      return status;
    }
    finish_ = std::move(status);
    return std::nullopt;
  }

  /// Drop what is queued and start no more writes (the peer is gone). Returns a
  /// pending FinishWhenDrained status, which the caller must now finish with.
  std::optional<::grpc::Status> Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    std::optional<::grpc::Status> pending = std::move(finish_);
    finish_.reset();
    return pending;
  }

 private:
  struct Entry {
    Message message;
    bool is_push;
  };
  std::mutex mu_;
  std::deque<Entry> queue_;  // deque: references to the front survive push_back
  std::size_t pushes_ = 0;
  std::optional<::grpc::Status> finish_;  ///< pending FinishWhenDrained
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace dflockd::grpc_api
