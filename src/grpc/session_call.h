// Session: a bidirectional stream with the semantics of a native connection.
#pragma once

#include <grpcpp/grpcpp.h>

#include "dflockd/v1/dflockd.pb.h"
#include "grpc/engine_link.h"

namespace dflockd::grpc_api {

::grpc::ServerBidiReactor<::dflockd::v1::SessionRequest, ::dflockd::v1::SessionResponse>*
StartSessionCall(EngineLink& link);

}  // namespace dflockd::grpc_api
