// The common part of the server streams the engine feeds (Subscribe, Watch): a
// bounded write queue, the write reactions, and self-deletion once gRPC is done.
// `Derived` provides Cancelled(), called on OnCancel (it posts its own cleanup to the
// engine thread).
#pragma once

#include <grpcpp/grpcpp.h>

#include "grpc/push_queue.h"

namespace dflockd::grpc_api {

template <typename Derived>
class PushStream : public ::grpc::ServerWriteReactor<::grpc::ByteBuffer> {
 public:
  void OnWriteDone(bool ok) override {
    queue_.AfterWrite(
        ok, [this](::grpc::ByteBuffer* m) { StartWrite(m); },
        [this](const ::grpc::Status& s) { ServerWriteReactor::Finish(s); });
  }
  void OnCancel() override { static_cast<Derived*>(this)->Cancelled(); }
  void OnDone() override { delete static_cast<Derived*>(this); }

 protected:
  /// Queues a pushed message (engine thread); false when `max` are already waiting.
  bool QueuePush(::grpc::ByteBuffer message, std::size_t max) {
    return queue_.Enqueue(std::move(message), true, max,
                          [this](::grpc::ByteBuffer* m) { StartWrite(m); });
  }
  /// Ends the stream with `status`, dropping what is still queued (an error or a
  /// cancel ends it). Call once.
  void EndStream(const ::grpc::Status& status) {
    queue_.Close();
    ServerWriteReactor::Finish(status);
  }

 private:
  PushQueue<::grpc::ByteBuffer> queue_;
};

}  // namespace dflockd::grpc_api
