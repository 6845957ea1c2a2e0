#include "grpc/session_call.h"

#include <memory>

#include "core/utf8.h"
#include "grpc/convert.h"
#include "grpc/push_queue.h"
#include "grpc/raw_message.h"
#include "grpc/status_map.h"
#include "core/overloaded.h"

namespace dflockd::grpc_api {
namespace {

using ::grpc::ByteBuffer;
using Request = v1::SessionRequest;
using Response = v1::SessionResponse;


/// The command a request carries, or nothing if it carries none.
std::optional<core::Command> CommandOf(const Request& r) {
  // An unknown resource kind is refused, never taken for a lock.
  auto known = [](const auto& m) -> std::optional<core::Command> {
    if (!KnownKind(m.resource())) return std::nullopt;
    return ToCommand(m);
  };
  switch (r.command_case()) {
    case Request::kAcquire: return known(r.acquire());
    case Request::kRelease: return known(r.release());
    case Request::kRenew: return known(r.renew());
    case Request::kEnqueue: return known(r.enqueue());
    case Request::kWait: return known(r.wait());
    case Request::kListen: return ToListen(r.listen());
    case Request::kUnlisten: return ToUnlisten(r.unlisten());
    case Request::kPublish: return ToCommand(r.publish());
    case Request::kStats: return core::Command{core::Stats{r.stats().scope() == "cluster"}};
    case Request::COMMAND_NOT_SET: break;
  }
  return std::nullopt;
}

/// Puts a successful reply into the response's result field for `kind`.
void FillResult(Request::CommandCase kind, const core::Reply& reply, Response* out) {
  std::visit(Overloaded{
                 [&](const core::Granted& g) {
                   if (kind == Request::kEnqueue) {
                     FillGrant(g, out->mutable_enqueue()->mutable_grant());
                   } else if (kind == Request::kWait) {
                     FillGrant(g, out->mutable_wait()->mutable_grant());
                   } else {
                     FillGrant(g, out->mutable_acquire()->mutable_grant());
                   }
                 },
                 [&](const core::Queued&) { out->mutable_enqueue()->set_queued(true); },
                 [&](const core::Renewed& r) { out->mutable_renew()->set_lease_ttl_s(r.lease_s); },
                 [&](const core::Ack&) {
                   if (kind == Request::kRelease) out->mutable_release();
                 },
                 [&](const core::Published& p) {
                   out->mutable_publish()->set_deliveries(p.deliveries);
                 },
                 [&](const core::StatsSnapshot& s) { FillStats(s, out->mutable_stats()); },
             },
             reply);
}

class SessionCall final : public ::grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>,
                          public core::SessionSink {
 public:
  SessionCall(EngineLink& link, CallSlot slot)
      : link_(link), slot_(std::move(slot)), state_(std::make_shared<State>()) {
    state_->reactor = this;
    // "ipv4:10.0.0.7:51234" -> "10.0.0.7:51234", as the other transports show it.
    const std::string& peer = slot_.peer();
    const auto colon = peer.find(':');
    state_->peer = colon == std::string::npos ? peer : peer.substr(colon + 1);
    link_.post([state = state_, &link = link_] {
      if (state->finished) return;
      state->session = link.executor.OpenSession(state->reactor);
      link.executor.DescribeSession(state->session, core::SessionInfo{"grpc", state->peer});
      if (link.metrics != nullptr) link.metrics->ConnectionOpened(metrics::Transport::kGrpc);
    });
    StartRead(&raw_request_);
  }

  // gRPC reactions.
  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed: finish once the request in progress is answered.
      link_.post([state = state_, &link = link_] {
        state->half_closed = true;
        if (!state->busy) Finish(*state, link, ::grpc::Status::OK, /*drain=*/true);
      });
      return;
    }
    Request request;
    if (!ParseMessage(raw_request_, &request)) {
      // Not a half-close: the client sent bytes that are no SessionRequest.
      link_.post([state = state_, &link = link_] {
        Finish(*state, link, MalformedMessage<Request>());
      });
      return;
    }
    link_.post([state = state_, &link = link_, request = std::move(request)]() mutable {
      Handle(state, link, std::move(request));
    });
  }

  void OnWriteDone(bool ok) override {
    queue_.AfterWrite(
        ok, [this](ByteBuffer* m) { StartWrite(m); },
        [this](const ::grpc::Status& s) { ServerBidiReactor::Finish(s); });
  }

  void OnCancel() override {
    link_.post([state = state_, &link = link_] { Finish(*state, link, ::grpc::Status::CANCELLED); });
  }

  void OnDone() override { delete this; }

  // core::SessionSink — engine thread.
  bool Push(std::string_view channel, std::string_view payload) override {
    Response r;
    r.mutable_signal()->set_channel(core::ToValidUtf8(channel));
    r.mutable_signal()->set_payload(std::string(payload));
    return queue_.Enqueue(SerializeMessage(r), true, link_.max_push_queue,
                          [this](ByteBuffer* m) { StartWrite(m); });
  }

  void Evicted() override {
    state_->session = 0;  // the engine already closed it
    if (link_.metrics != nullptr) link_.metrics->ConnectionClosed(metrics::Transport::kGrpc);
    Finish(*state_, link_,
           ::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED, "slow consumer disconnected"));
  }

 private:
  struct State {
    SessionCall* reactor = nullptr;
    core::SessionId session = 0;
    std::string peer;  ///< the client's address, for watchers
    bool busy = false;
    bool half_closed = false;
    bool finished = false;
  };

  /// Engine thread: run one request; read the next once it is answered, so requests
  /// are handled in order, one at a time, as on a native connection.
  static void Handle(const std::shared_ptr<State>& state, EngineLink& link, Request request) {
    if (state->finished) return;
    const std::uint64_t id = request.id();
    const Request::CommandCase kind = request.command_case();
    std::optional<core::Command> command = CommandOf(request);
    if (!command) {
      Answer(*state, link, id, kind, core::ErrorCode::kInvalid);
      return;
    }
    state->busy = true;
    link.executor.Submit(state->session, std::move(*command),
                         [state, &link, id, kind](core::Result<core::Reply> r) {
                           state->busy = false;
                           if (state->finished) return;
                           if (!r.ok() && r.error() == core::ErrorCode::kCancelled) return;
                           Answer(*state, link, id, kind, r);
                         });
  }

  static void Answer(State& state, EngineLink& link, std::uint64_t id, Request::CommandCase kind,
                     const core::Result<core::Reply>& result) {
    Response response;
    response.set_id(id);
    if (result.ok()) {
      FillResult(kind, result.value(), &response);
    } else {
      ::grpc::Status status = StatusFor(result.error());
      response.set_status_code(status.error_code());
      response.set_status_message(status.error_message());
    }
    SessionCall* self = state.reactor;
    self->queue_.Enqueue(SerializeMessage(response), false, 0,
                         [self](ByteBuffer* m) { self->StartWrite(m); });
    if (!result.ok() && result.error() == core::ErrorCode::kDraining) {
      Finish(state, link, StatusFor(core::ErrorCode::kDraining), /*drain=*/true);
    } else if (state.half_closed) {
      Finish(state, link, ::grpc::Status::OK, /*drain=*/true);
    } else {
      self->StartRead(&self->raw_request_);
    }
  }

  /// Engine thread only: close the engine session (releasing holds), end the stream.
  /// `drain`: write the answers already queued first (a clean end); otherwise the
  /// peer is gone or too slow and queued messages are dropped.
  static void Finish(State& state, EngineLink& link, const ::grpc::Status& status,
                     bool drain = false) {
    if (state.finished) return;
    state.finished = true;
    CloseEngineSession(link, state.session);
    SessionCall* self = state.reactor;
    if (!drain) {
      self->queue_.Close();
      self->ServerBidiReactor::Finish(status);
    } else if (auto now = self->queue_.FinishWhenDrained(status)) {
      self->ServerBidiReactor::Finish(*now);
    }
  }

  EngineLink& link_;
  CallSlot slot_;
  std::shared_ptr<State> state_;
  ByteBuffer raw_request_;
  PushQueue<ByteBuffer> queue_;
};

}  // namespace

::grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>* StartSessionCall(EngineLink& link,
                                                                   CallSlot slot) {
  return new SessionCall(link, std::move(slot));
}

}  // namespace dflockd::grpc_api
