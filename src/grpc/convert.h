// Protobuf messages ↔ core command and reply objects. Pure.
#pragma once

#include "core/command.h"
#include "core/reply.h"
#include "dflockd/v1/dflockd.pb.h"

namespace dflockd::grpc_api {

namespace v1 = ::dflockd::v1;

/// A Resource's kind is one this server knows (proto3 enums carry unknown values
/// through; an unknown kind must not be taken for a lock).
bool KnownKind(const v1::Resource& r);

core::Command ToCommand(const v1::AcquireRequest& r);
core::Command ToCommand(const v1::ReleaseRequest& r);
core::Command ToCommand(const v1::RenewRequest& r);
core::Command ToCommand(const v1::EnqueueRequest& r);
core::Command ToCommand(const v1::WaitRequest& r);
core::Command ToCommand(const v1::PublishRequest& r);
core::Command ToListen(const v1::Subscription& s);
core::Command ToUnlisten(const v1::Subscription& s);

void FillGrant(const core::Granted& g, v1::Grant* out);
void FillStats(const core::StatsSnapshot& s, v1::StatsResponse* out);

}  // namespace dflockd::grpc_api
