// Session: a bidirectional stream with the semantics of a native connection.
#pragma once

#include <grpcpp/grpcpp.h>

#include "dflockd/v1/dflockd.pb.h"
#include "grpc/engine_link.h"
#include "grpc/peer_connections.h"

namespace dflockd::grpc_api {

/// Reads serialised v1.SessionRequest and writes v1.SessionResponse messages (the
/// service is raw, so a malformed request ends the stream with INVALID_ARGUMENT).
::grpc::ServerBidiReactor<::grpc::ByteBuffer, ::grpc::ByteBuffer>* StartSessionCall(EngineLink& link,
                                                                                 CallSlot slot);

}  // namespace dflockd::grpc_api
