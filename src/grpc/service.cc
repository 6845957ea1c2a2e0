#include "grpc/service.h"

#include <string_view>

#include "auth/bearer.h"
#include "auth/token_compare.h"
#include "grpc/convert.h"
#include "grpc/raw_message.h"
#include "grpc/session_call.h"
#include "grpc/status_map.h"
#include "grpc/subscribe_call.h"
#include "grpc/unary_call.h"
#include "grpc/watch_call.h"

namespace dflockd::grpc_api {
namespace {

using ::grpc::ByteBuffer;
using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

const ::grpc::Status kUnknownKind(::grpc::StatusCode::INVALID_ARGUMENT,
                                  "unknown Resource.kind (KIND_LOCK or KIND_SEMAPHORE)");

/// A stream reactor that only finishes (auth failure, malformed request, caps).
template <typename Reactor>
Reactor* RejectStream(const ::grpc::Status& status) {
  class Rejected : public Reactor {
   public:
    explicit Rejected(const ::grpc::Status& s) { this->Finish(s); }
    void OnDone() override { delete this; }
  };
  return new Rejected(status);
}

/// The command of a request that names a resource, or the error for its kind.
template <typename Request>
core::Result<core::Command> ResourceCommand(const Request& r) {
  if (!KnownKind(r.resource())) return core::ErrorCode::kInvalid;
  return ToCommand(r);
}

}  // namespace

::grpc::Status DflockdService::CheckAuth(const CallbackServerContext* context) const {
  if (link_.auth_token.empty()) return ::grpc::Status::OK;
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    auto token = auth::BearerToken(std::string_view(it->second.data(), it->second.size()));
    if (token && auth::TokenMatches(*token, link_.auth_token)) return ::grpc::Status::OK;
  }
  return ::grpc::Status(::grpc::StatusCode::UNAUTHENTICATED,
                        "missing or wrong 'authorization: Bearer <token>' metadata");
}

::grpc::Status DflockdService::Admit(const CallbackServerContext* context, CallSlot* slot) {
  if (link_.peers == nullptr) return ::grpc::Status::OK;
  std::string peer = context->peer();
  if (!link_.peers->Enter(peer)) {
    return ::grpc::Status(::grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "connection limit reached (--max-connections / --max-connections-per-ip)");
  }
  *slot = CallSlot(link_.peers.get(), std::move(peer));
  return ::grpc::Status::OK;
}

template <typename Request, typename Response, typename ToCommand, typename Fill>
ServerUnaryReactor* DflockdService::Unary(CallbackServerContext* context, const ByteBuffer* raw,
                                          ByteBuffer* out, ToCommand to_command, Fill fill) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  Request request;
  if (!ParseMessage(*raw, &request)) return RejectUnaryCall(context, MalformedMessage<Request>());
  core::Result<core::Command> command = to_command(request);
  if (!command.ok()) return RejectUnaryCall(context, kUnknownKind);
  CallSlot slot;
  if (auto s = Admit(context, &slot); !s.ok()) return RejectUnaryCall(context, s);
  return StartUnaryCall(link_, std::move(slot), std::move(command.value()),
                        [out, fill](const core::Reply& reply) {
                          Response response;
                          fill(reply, &response);
                          *out = SerializeMessage(response);
                        });
}

ServerUnaryReactor* DflockdService::Acquire(CallbackServerContext* context, const ByteBuffer* request,
                                            ByteBuffer* response) {
  return Unary<v1::AcquireRequest, v1::AcquireResponse>(
      context, request, response, ResourceCommand<v1::AcquireRequest>,
      [](const core::Reply& reply, v1::AcquireResponse* out) {
        FillGrant(std::get<core::Granted>(reply), out->mutable_grant());
      });
}

ServerUnaryReactor* DflockdService::Release(CallbackServerContext* context, const ByteBuffer* request,
                                            ByteBuffer* response) {
  return Unary<v1::ReleaseRequest, v1::ReleaseResponse>(
      context, request, response, ResourceCommand<v1::ReleaseRequest>,
      [](const core::Reply&, v1::ReleaseResponse*) {});
}

ServerUnaryReactor* DflockdService::Renew(CallbackServerContext* context, const ByteBuffer* request,
                                          ByteBuffer* response) {
  return Unary<v1::RenewRequest, v1::RenewResponse>(
      context, request, response, ResourceCommand<v1::RenewRequest>,
      [](const core::Reply& reply, v1::RenewResponse* out) {
        out->set_lease_ttl_s(std::get<core::Renewed>(reply).lease_s);
      });
}

ServerUnaryReactor* DflockdService::Publish(CallbackServerContext* context, const ByteBuffer* request,
                                            ByteBuffer* response) {
  return Unary<v1::PublishRequest, v1::PublishResponse>(
      context, request, response,
      [](const v1::PublishRequest& r) { return core::Result<core::Command>(ToCommand(r)); },
      [](const core::Reply& reply, v1::PublishResponse* out) {
        out->set_deliveries(std::get<core::Published>(reply).deliveries);
      });
}

ServerUnaryReactor* DflockdService::Stats(CallbackServerContext* context, const ByteBuffer* request,
                                          ByteBuffer* response) {
  v1::StatsRequest peek;
  if (ParseMessage(*request, &peek) && peek.scope() != "" && peek.scope() != "shard" &&
      peek.scope() != "cluster") {
    return RejectUnaryCall(context, ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT,
                                                   "scope must be \"\", \"shard\" or \"cluster\""));
  }
  return Unary<v1::StatsRequest, v1::StatsResponse>(
      context, request, response,
      [](const v1::StatsRequest& r) -> core::Result<core::Command> {
        if (r.scope() != "" && r.scope() != "shard" && r.scope() != "cluster") {
          return core::ErrorCode::kInvalid;
        }
        return core::Command{core::Stats{r.scope() == "cluster"}};
      },
      [](const core::Reply& reply, v1::StatsResponse* out) {
        FillStats(std::get<core::StatsSnapshot>(reply), out);
      });
}

ServerUnaryReactor* DflockdService::Topology(CallbackServerContext* context,
                                             const ByteBuffer* request, ByteBuffer* response) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  v1::TopologyRequest parsed;
  if (!ParseMessage(*request, &parsed)) {
    return RejectUnaryCall(context, MalformedMessage<v1::TopologyRequest>());
  }
  // Configuration, not engine state: answered on gRPC's thread.
  v1::TopologyResponse out;
  for (const auto& shard : link_.shards) out.add_shards(shard);
  out.set_self(static_cast<std::uint32_t>(link_.shard_self));
  *response = SerializeMessage(out);
  ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(::grpc::Status::OK);
  return reactor;
}

::grpc::ServerWriteReactor<ByteBuffer>* DflockdService::Watch(CallbackServerContext* context,
                                                              const ByteBuffer* raw) {
  using Reactor = ::grpc::ServerWriteReactor<ByteBuffer>;
  if (auto s = CheckAuth(context); !s.ok()) return RejectStream<Reactor>(s);
  v1::WatchRequest request;
  if (!ParseMessage(*raw, &request)) return RejectStream<Reactor>(MalformedMessage<v1::WatchRequest>());
  CallSlot slot;
  if (auto s = Admit(context, &slot); !s.ok()) return RejectStream<Reactor>(s);
  return StartWatchCall(link_, std::move(slot), request);
}

::grpc::ServerWriteReactor<ByteBuffer>* DflockdService::Subscribe(CallbackServerContext* context,
                                                                  const ByteBuffer* raw) {
  using Reactor = ::grpc::ServerWriteReactor<ByteBuffer>;
  if (auto s = CheckAuth(context); !s.ok()) return RejectStream<Reactor>(s);
  v1::SubscribeRequest request;
  if (!ParseMessage(*raw, &request)) {
    return RejectStream<Reactor>(MalformedMessage<v1::SubscribeRequest>());
  }
  CallSlot slot;
  if (auto s = Admit(context, &slot); !s.ok()) return RejectStream<Reactor>(s);
  return StartSubscribeCall(link_, std::move(slot), request);
}

::grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>* DflockdService::Session(
    CallbackServerContext* context) {
  using Reactor = ::grpc::ServerBidiReactor<ByteBuffer, ByteBuffer>;
  if (auto s = CheckAuth(context); !s.ok()) return RejectStream<Reactor>(s);
  CallSlot slot;
  if (auto s = Admit(context, &slot); !s.ok()) return RejectStream<Reactor>(s);
  return StartSessionCall(link_, std::move(slot));
}

}  // namespace dflockd::grpc_api
