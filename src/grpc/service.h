// The dflockd.v1.Dflockd gRPC service: auth, then one reactor per call.
#pragma once

#include "dflockd/v1/dflockd.grpc.pb.h"
#include "grpc/engine_link.h"

namespace dflockd::grpc_api {

class DflockdService final : public ::dflockd::v1::Dflockd::CallbackService {
 public:
  explicit DflockdService(EngineLink link) : link_(std::move(link)) {}

  ::grpc::ServerUnaryReactor* Acquire(::grpc::CallbackServerContext* context,
                                      const ::dflockd::v1::AcquireRequest* request,
                                      ::dflockd::v1::AcquireResponse* response) override;
  ::grpc::ServerUnaryReactor* Release(::grpc::CallbackServerContext* context,
                                      const ::dflockd::v1::ReleaseRequest* request,
                                      ::dflockd::v1::ReleaseResponse* response) override;
  ::grpc::ServerUnaryReactor* Renew(::grpc::CallbackServerContext* context,
                                    const ::dflockd::v1::RenewRequest* request,
                                    ::dflockd::v1::RenewResponse* response) override;
  ::grpc::ServerUnaryReactor* Publish(::grpc::CallbackServerContext* context,
                                      const ::dflockd::v1::PublishRequest* request,
                                      ::dflockd::v1::PublishResponse* response) override;
  ::grpc::ServerUnaryReactor* Stats(::grpc::CallbackServerContext* context,
                                    const ::dflockd::v1::StatsRequest* request,
                                    ::dflockd::v1::StatsResponse* response) override;
  ::grpc::ServerWriteReactor<::dflockd::v1::Signal>* Subscribe(
      ::grpc::CallbackServerContext* context,
      const ::dflockd::v1::SubscribeRequest* request) override;
  ::grpc::ServerBidiReactor<::dflockd::v1::SessionRequest, ::dflockd::v1::SessionResponse>*
  Session(::grpc::CallbackServerContext* context) override;

 private:
  /// OK, or UNAUTHENTICATED when a token is configured and the call lacks it.
  ::grpc::Status CheckAuth(const ::grpc::CallbackServerContext* context) const;

  EngineLink link_;
};

}  // namespace dflockd::grpc_api
