// Subscribe: a server stream of signals backed by an engine session.
#pragma once

#include <grpcpp/grpcpp.h>

#include "dflockd/v1/dflockd.pb.h"
#include "grpc/engine_link.h"
#include "grpc/peer_connections.h"

namespace dflockd::grpc_api {

/// Signals are written as serialised v1.Signal messages (the service is raw).
::grpc::ServerWriteReactor<::grpc::ByteBuffer>* StartSubscribeCall(
    EngineLink& link, CallSlot slot, const ::dflockd::v1::SubscribeRequest& request);

}  // namespace dflockd::grpc_api
