#include "grpc/service.h"

#include <string_view>

#include "auth/token_compare.h"
#include "grpc/convert.h"
#include "grpc/session_call.h"
#include "grpc/subscribe_call.h"
#include "grpc/unary_call.h"

namespace dflockd::grpc_api {

using ::grpc::CallbackServerContext;
using ::grpc::ServerUnaryReactor;

::grpc::Status DflockdService::CheckAuth(const CallbackServerContext* context) const {
  if (link_.auth_token.empty()) return ::grpc::Status::OK;
  constexpr std::string_view kBearer = "Bearer ";
  const auto& metadata = context->client_metadata();
  auto it = metadata.find("authorization");
  if (it != metadata.end()) {
    std::string_view value(it->second.data(), it->second.size());
    if (value.substr(0, kBearer.size()) == kBearer &&
        auth::TokenMatches(value.substr(kBearer.size()), link_.auth_token)) {
      return ::grpc::Status::OK;
    }
  }
  return ::grpc::Status(::grpc::StatusCode::UNAUTHENTICATED,
                        "missing or wrong 'authorization: Bearer <token>' metadata");
}

ServerUnaryReactor* DflockdService::Acquire(CallbackServerContext* context,
                                            const v1::AcquireRequest* request,
                                            v1::AcquireResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  return StartUnaryCall(link_, ToCommand(*request), [response](const core::Reply& reply) {
    FillGrant(std::get<core::Granted>(reply), response->mutable_grant());
  });
}

ServerUnaryReactor* DflockdService::Release(CallbackServerContext* context,
                                            const v1::ReleaseRequest* request,
                                            v1::ReleaseResponse*) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  return StartUnaryCall(link_, ToCommand(*request), [](const core::Reply&) {});
}

ServerUnaryReactor* DflockdService::Renew(CallbackServerContext* context,
                                          const v1::RenewRequest* request,
                                          v1::RenewResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  return StartUnaryCall(link_, ToCommand(*request), [response](const core::Reply& reply) {
    response->set_lease_ttl_s(std::get<core::Renewed>(reply).lease_s);
  });
}

ServerUnaryReactor* DflockdService::Publish(CallbackServerContext* context,
                                            const v1::PublishRequest* request,
                                            v1::PublishResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  return StartUnaryCall(link_, ToCommand(*request), [response](const core::Reply& reply) {
    response->set_deliveries(std::get<core::Published>(reply).deliveries);
  });
}

ServerUnaryReactor* DflockdService::Stats(CallbackServerContext* context,
                                          const v1::StatsRequest*, v1::StatsResponse* response) {
  if (auto s = CheckAuth(context); !s.ok()) return RejectUnaryCall(context, s);
  return StartUnaryCall(link_, core::Stats{}, [response](const core::Reply& reply) {
    FillStats(std::get<core::StatsSnapshot>(reply), response);
  });
}

::grpc::ServerWriteReactor<v1::Signal>* DflockdService::Subscribe(
    CallbackServerContext* context, const v1::SubscribeRequest* request) {
  if (auto s = CheckAuth(context); !s.ok()) {
    // A reactor that only finishes.
    class Rejected : public ::grpc::ServerWriteReactor<v1::Signal> {
     public:
      explicit Rejected(const ::grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Rejected(s);
  }
  return StartSubscribeCall(link_, *request);
}

::grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse>* DflockdService::Session(
    CallbackServerContext* context) {
  if (auto s = CheckAuth(context); !s.ok()) {
    class Rejected : public ::grpc::ServerBidiReactor<v1::SessionRequest, v1::SessionResponse> {
     public:
      explicit Rejected(const ::grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Rejected(s);
  }
  return StartSessionCall(link_);
}

}  // namespace dflockd::grpc_api
