// Core error codes → gRPC status: the one table for the gRPC transport.
#pragma once

#include <grpcpp/support/status.h>

#include "core/status.h"

namespace dflockd::grpc_api {

::grpc::StatusCode CodeFor(core::ErrorCode code);
::grpc::Status StatusFor(core::ErrorCode code);

}  // namespace dflockd::grpc_api
