// The dflockd.v1.Dflockd gRPC service: auth, connection caps, message parsing (raw
// methods: see raw_message.h), then one reactor per call.
#pragma once

#include "dflockd/v1/dflockd.grpc.pb.h"
#include "grpc/engine_link.h"

namespace dflockd::grpc_api {

namespace v1 = ::dflockd::v1;

/// Every method of the service in its ByteBuffer form.
using RawDflockdService = v1::Dflockd::WithRawCallbackMethod_Acquire<
    v1::Dflockd::WithRawCallbackMethod_Release<v1::Dflockd::WithRawCallbackMethod_Renew<
        v1::Dflockd::WithRawCallbackMethod_Publish<v1::Dflockd::WithRawCallbackMethod_Subscribe<
            v1::Dflockd::WithRawCallbackMethod_Stats<
                v1::Dflockd::WithRawCallbackMethod_Topology<v1::Dflockd::WithRawCallbackMethod_Watch<
                    v1::Dflockd::WithRawCallbackMethod_Session<v1::Dflockd::Service>>>>>>>>>;

class DflockdService final : public RawDflockdService {
 public:
  explicit DflockdService(EngineLink link) : link_(std::move(link)) {}

  ::grpc::ServerUnaryReactor* Acquire(::grpc::CallbackServerContext* context,
                                      const ::grpc::ByteBuffer* request,
                                      ::grpc::ByteBuffer* response) override;
  ::grpc::ServerUnaryReactor* Release(::grpc::CallbackServerContext* context,
                                      const ::grpc::ByteBuffer* request,
                                      ::grpc::ByteBuffer* response) override;
  ::grpc::ServerUnaryReactor* Renew(::grpc::CallbackServerContext* context,
                                    const ::grpc::ByteBuffer* request,
                                    ::grpc::ByteBuffer* response) override;
  ::grpc::ServerUnaryReactor* Publish(::grpc::CallbackServerContext* context,
                                      const ::grpc::ByteBuffer* request,
                                      ::grpc::ByteBuffer* response) override;
  ::grpc::ServerUnaryReactor* Stats(::grpc::CallbackServerContext* context,
                                    const ::grpc::ByteBuffer* request,
                                    ::grpc::ByteBuffer* response) override;
  ::grpc::ServerUnaryReactor* Topology(::grpc::CallbackServerContext* context,
                                       const ::grpc::ByteBuffer* request,
                                       ::grpc::ByteBuffer* response) override;
  ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* Watch(
      ::grpc::CallbackServerContext* context, const ::grpc::ByteBuffer* request) override;
  ::grpc::ServerWriteReactor<::grpc::ByteBuffer>* Subscribe(
      ::grpc::CallbackServerContext* context, const ::grpc::ByteBuffer* request) override;
  ::grpc::ServerBidiReactor<::grpc::ByteBuffer, ::grpc::ByteBuffer>* Session(
      ::grpc::CallbackServerContext* context) override;

 private:
  /// OK, or UNAUTHENTICATED when a token is configured and the call lacks it.
  ::grpc::Status CheckAuth(const ::grpc::CallbackServerContext* context) const;
  /// The connection caps: OK and the call's slot, or the refusal.
  ::grpc::Status Admit(const ::grpc::CallbackServerContext* context, CallSlot* slot);

  /// A unary method: parse `Request`, convert it with `to_command` (a Result), run
  /// it, and fill a `Response` with `fill(reply, &response)`.
  template <typename Request, typename Response, typename ToCommand, typename Fill>
  ::grpc::ServerUnaryReactor* Unary(::grpc::CallbackServerContext* context,
                                    const ::grpc::ByteBuffer* raw, ::grpc::ByteBuffer* out,
                                    ToCommand to_command, Fill fill);

  EngineLink link_;
};

}  // namespace dflockd::grpc_api
