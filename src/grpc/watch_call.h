// Watch: a server stream of watch events (core/watch.h) for keys matching a pattern.
#pragma once

#include <grpcpp/grpcpp.h>

#include "dflockd/v1/dflockd.pb.h"
#include "grpc/engine_link.h"
#include "grpc/peer_connections.h"

namespace dflockd::grpc_api {

/// Events are written as serialised v1.WatchEvent messages (the service is raw).
::grpc::ServerWriteReactor<::grpc::ByteBuffer>* StartWatchCall(
    EngineLink& link, CallSlot slot, const ::dflockd::v1::WatchRequest& request);

}  // namespace dflockd::grpc_api
