#include "grpc/watch_call.h"

#include <memory>

#include "core/utf8.h"
#include "grpc/push_stream.h"
#include "grpc/raw_message.h"

namespace dflockd::grpc_api {
namespace {

using ::grpc::ByteBuffer;

/// Events queued at most; a watcher further behind is dropped (RESOURCE_EXHAUSTED).
constexpr std::size_t kMaxQueuedEvents = 8192;

v1::WatchEvent ToProto(const core::WatchEvent& e) {
  v1::WatchEvent out;
  out.set_event(core::ToString(e.kind));
  if (e.kind == core::WatchEvent::Kind::kSnapshotDone) return out;
  out.set_kind(e.ns == core::Namespace::kLock ? v1::KIND_LOCK : v1::KIND_SEMAPHORE);
  out.set_key(core::ToValidUtf8(e.key));
  out.set_limit(e.limit);
  out.set_fence(e.fence);
  out.set_lease_ttl_s(e.lease_s);
  out.set_remaining_s(e.remaining_s);
  out.set_waiter(e.waiter);
  out.set_waited_s(e.waited_s);
  out.set_count(e.count);
  out.set_session(e.session);
  if (e.info != nullptr) {
    out.set_transport(e.info->transport);
    out.set_remote(e.info->remote);
  }
  out.set_reason(std::string(e.reason));
  return out;
}

class WatchCall final : public PushStream<WatchCall>, public core::WatchSink {
 public:
  WatchCall(EngineLink& link, CallSlot slot)
      : link_(link), slot_(std::move(slot)), state_(std::make_shared<State>()) {
    state_->reactor = this;
  }

  void Begin(const v1::WatchRequest& request) {
    std::string pattern = request.pattern().empty() ? std::string(">") : request.pattern();
    link_.post([state = state_, &link = link_, pattern = std::move(pattern)]() mutable {
      if (state->finished) return;
      auto id = link.executor.Watch(std::move(pattern), state->reactor);
      if (!id.ok()) {
        return Finish(*state, link, ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                                                   "invalid pattern"));
      }
      if (!state->finished) state->watch = id.value();  // (evicted during the snapshot: 0)
    });
  }

  // core::WatchSink — engine thread.
  bool Deliver(const core::WatchEvent& event) override {
    return QueuePush(SerializeMessage(ToProto(event)), kMaxQueuedEvents);
  }

  void WatchEvicted() override {
    state_->watch = 0;  // the engine already dropped it
    Finish(*state_, link_,
           ::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED, "slow watcher disconnected"));
  }

  /// gRPC's OnCancel (PushStream).
  void Cancelled() {
    link_.post([state = state_, &link = link_] { Finish(*state, link, ::grpc::Status::CANCELLED); });
  }

 private:
  struct State {
    WatchCall* reactor = nullptr;
    core::WatchId watch = 0;
    bool finished = false;
  };

  /// Engine thread only: stop the watch, then end the stream once.
  static void Finish(State& state, EngineLink& link, const ::grpc::Status& status) {
    if (state.finished) return;
    state.finished = true;
    if (state.watch != 0) link.executor.Unwatch(state.watch);
    state.watch = 0;
    state.reactor->EndStream(status);  // events still queued are dropped
  }

  EngineLink& link_;
  CallSlot slot_;
  std::shared_ptr<State> state_;
};

}  // namespace

::grpc::ServerWriteReactor<ByteBuffer>* StartWatchCall(EngineLink& link, CallSlot slot,
                                                        const v1::WatchRequest& request) {
  auto* call = new WatchCall(link, std::move(slot));
  call->Begin(request);
  return call;
}

}  // namespace dflockd::grpc_api
