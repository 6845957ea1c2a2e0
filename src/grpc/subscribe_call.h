// Subscribe: a server stream of signals backed by an engine session.
#pragma once

#include <grpcpp/grpcpp.h>

#include "dflockd/v1/dflockd.pb.h"
#include "grpc/engine_link.h"

namespace dflockd::grpc_api {

::grpc::ServerWriteReactor<::dflockd::v1::Signal>* StartSubscribeCall(
    EngineLink& link, const ::dflockd::v1::SubscribeRequest& request);

}  // namespace dflockd::grpc_api
