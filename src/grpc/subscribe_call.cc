#include "grpc/subscribe_call.h"

#include <memory>

#include "core/utf8.h"
#include "grpc/convert.h"
#include "grpc/push_stream.h"
#include "grpc/raw_message.h"
#include "grpc/status_map.h"

namespace dflockd::grpc_api {
namespace {

using ::grpc::ByteBuffer;

class SubscribeCall final : public PushStream<SubscribeCall>, public core::SessionSink {
 public:
  SubscribeCall(EngineLink& link, CallSlot slot)
      : link_(link), slot_(std::move(slot)), state_(std::make_shared<State>()) {
    state_->reactor = this;
  }

  void Begin(const v1::SubscribeRequest& request) {
    std::vector<core::Command> listens;
    for (const auto& s : request.subscriptions()) listens.push_back(ToListen(s));
    link_.post([state = state_, &link = link_, listens = std::move(listens)]() mutable {
      if (state->finished) return;
      if (listens.empty()) {
        return Finish(*state, link, ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                                                   "at least one subscription is required"));
      }
      state->session = link.executor.OpenSession(state->reactor);
      if (link.metrics != nullptr) link.metrics->ConnectionOpened(metrics::Transport::kGrpc);
      for (auto& listen : listens) {
        std::optional<::grpc::Status> failed;
        link.executor.Submit(state->session, std::move(listen), [&](core::Result<core::Reply> r) {
          if (!r.ok()) failed = StatusFor(r.error());
        });
        if (failed) return Finish(*state, link, *failed);
      }
    });
  }

  // core::SessionSink — engine thread.
  bool Push(std::string_view channel, std::string_view payload) override {
    v1::Signal signal;
    signal.set_channel(core::ToValidUtf8(channel));
    signal.set_payload(std::string(payload));
    return QueuePush(SerializeMessage(signal), link_.max_push_queue);
  }

  void Evicted() override {
    state_->session = 0;  // the engine already closed it
    if (link_.metrics != nullptr) link_.metrics->ConnectionClosed(metrics::Transport::kGrpc);
    Finish(*state_, link_,
           ::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED, "slow consumer disconnected"));
  }

  /// gRPC's OnCancel (PushStream).
  void Cancelled() {
    link_.post([state = state_, &link = link_] { Finish(*state, link, ::grpc::Status::CANCELLED); });
  }

 private:
  struct State {
    SubscribeCall* reactor = nullptr;
    core::SessionId session = 0;
    bool finished = false;
  };

  /// Engine thread only: drop the engine session, then end the stream once.
  static void Finish(State& state, EngineLink& link, const ::grpc::Status& status) {
    if (state.finished) return;
    state.finished = true;
    CloseEngineSession(link, state.session);
    state.reactor->EndStream(status);  // signals still queued are dropped
  }

  EngineLink& link_;
  CallSlot slot_;
  std::shared_ptr<State> state_;
};

}  // namespace

::grpc::ServerWriteReactor<ByteBuffer>* StartSubscribeCall(EngineLink& link, CallSlot slot,
                                                            const v1::SubscribeRequest& request) {
  auto* call = new SubscribeCall(link, std::move(slot));
  call->Begin(request);
  return call;
}

}  // namespace dflockd::grpc_api
