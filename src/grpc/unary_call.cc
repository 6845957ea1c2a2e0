#include "grpc/unary_call.h"

#include <memory>

#include "grpc/status_map.h"

namespace dflockd::grpc_api {
namespace {

class UnaryCall final : public ::grpc::ServerUnaryReactor {
 public:
  UnaryCall(EngineLink& link, CallSlot slot, FillResponse fill)
      : link_(link), slot_(std::move(slot)), state_(std::make_shared<State>()) {
    state_->reactor = this;
    state_->fill = std::move(fill);
  }

  void Submit(core::Command command) {
    link_.post([state = state_, &link = link_, command = std::move(command)]() mutable {
      if (state->cancelled) return Finish(*state, ::grpc::Status::CANCELLED);
      const std::size_t index = command.index();
      state->request = link.executor.Submit(
          0, std::move(command), [state, &link, index](core::Result<core::Reply> r) {
            if (link.metrics != nullptr) {
              link.metrics->ObserveLatency(metrics::Transport::kGrpc, index,
                                           state->stopwatch.Elapsed());
            }
            if (r.ok()) {
              state->fill(r.value());
              Finish(*state, ::grpc::Status::OK);
            } else {
              Finish(*state, StatusFor(r.error()));
            }
          });
    });
  }

  void OnCancel() override {
    // Withdraw the waiter on the engine thread; its completion then finishes us.
    link_.post([state = state_, &link = link_] {
      state->cancelled = true;
      if (!state->finished && state->request != core::kNoRequest) {
        link.executor.Cancel(state->request);
      }
    });
  }

  void OnDone() override { delete this; }

 private:
  /// Engine-thread state; outlives the reactor while tasks still refer to it.
  struct State {
    UnaryCall* reactor = nullptr;
    FillResponse fill;
    core::RequestId request = core::kNoRequest;
    metrics::Stopwatch stopwatch;
    bool cancelled = false;
    bool finished = false;
  };

  static void Finish(State& state, const ::grpc::Status& status) {
    if (state.finished) return;
    state.finished = true;
    state.reactor->ServerUnaryReactor::Finish(status);  // the reactor may be gone after this
  }

  EngineLink& link_;
  CallSlot slot_;
  std::shared_ptr<State> state_;
};

}  // namespace

::grpc::ServerUnaryReactor* StartUnaryCall(EngineLink& link, CallSlot slot, core::Command command,
                                           FillResponse fill) {
  auto* call = new UnaryCall(link, std::move(slot), std::move(fill));
  call->Submit(std::move(command));
  return call;
}

::grpc::ServerUnaryReactor* RejectUnaryCall(::grpc::CallbackServerContext* context,
                                            const ::grpc::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

}  // namespace dflockd::grpc_api
