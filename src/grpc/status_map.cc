#include "grpc/status_map.h"

namespace dflockd::grpc_api {

using core::ErrorCode;
using ::grpc::StatusCode;

StatusCode CodeFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalid: return StatusCode::INVALID_ARGUMENT;
    case ErrorCode::kNotHeld: return StatusCode::NOT_FOUND;
    case ErrorCode::kTimeout: return StatusCode::DEADLINE_EXCEEDED;
    case ErrorCode::kMaxLocks:
    case ErrorCode::kMaxWaiters:
    case ErrorCode::kMaxSubscriptions: return StatusCode::RESOURCE_EXHAUSTED;
    case ErrorCode::kLimitMismatch:
    case ErrorCode::kNotEnqueued: return StatusCode::FAILED_PRECONDITION;
    case ErrorCode::kAlreadyEnqueued: return StatusCode::ALREADY_EXISTS;
    case ErrorCode::kLeaseExpired: return StatusCode::ABORTED;
    case ErrorCode::kDraining: return StatusCode::UNAVAILABLE;
    case ErrorCode::kFenceUnavailable: return StatusCode::UNAVAILABLE;
    case ErrorCode::kUnavailable: return StatusCode::UNAVAILABLE;
    case ErrorCode::kCancelled: return StatusCode::CANCELLED;
  }
  return StatusCode::UNKNOWN;
}

::grpc::Status StatusFor(ErrorCode code) {
  const char* message = "error";
  switch (code) {
    case ErrorCode::kInvalid: message = "invalid argument"; break;
    case ErrorCode::kNotHeld: message = "unknown key, or the token holds nothing there"; break;
    case ErrorCode::kTimeout: message = "timed out"; break;
    case ErrorCode::kMaxLocks: message = "max locks reached"; break;
    case ErrorCode::kMaxWaiters: message = "max waiters reached for this key"; break;
    case ErrorCode::kMaxSubscriptions: message = "max subscriptions reached"; break;
    case ErrorCode::kLimitMismatch: message = "semaphore exists with a different limit"; break;
    case ErrorCode::kNotEnqueued: message = "not enqueued"; break;
    case ErrorCode::kAlreadyEnqueued: message = "already enqueued"; break;
    case ErrorCode::kLeaseExpired: message = "lease expired before it was collected"; break;
    case ErrorCode::kDraining: message = "server is shutting down"; break;
    case ErrorCode::kFenceUnavailable:
      message = "fence state cannot be persisted: no grant is issued";
      break;
    case ErrorCode::kUnavailable: message = "the shard that owns this key is unreachable"; break;
    case ErrorCode::kCancelled: message = "cancelled"; break;
  }
  return ::grpc::Status(CodeFor(code), message);
}

}  // namespace dflockd::grpc_api
