// A unary RPC answered by the engine: submit the command, finish with the reply or
// the mapped error; a cancelled call (client cancel, deadline) withdraws its waiter.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

#include "core/command.h"
#include "core/reply.h"
#include "grpc/engine_link.h"
#include "grpc/peer_connections.h"

namespace dflockd::grpc_api {

/// Fills the response from a successful reply. Runs on the engine thread.
using FillResponse = std::function<void(const core::Reply&)>;

/// Starts the call and returns its reactor (gRPC deletes it via OnDone).
/// `slot` is the call's place under the connection caps, held until it is done.
::grpc::ServerUnaryReactor* StartUnaryCall(EngineLink& link, CallSlot slot, core::Command command,
                                           FillResponse fill);

/// Finishes at once with `status` (auth failures, requests the engine never sees).
::grpc::ServerUnaryReactor* RejectUnaryCall(::grpc::CallbackServerContext* context,
                                            const ::grpc::Status& status);

}  // namespace dflockd::grpc_api
