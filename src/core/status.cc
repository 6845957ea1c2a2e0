#include "core/status.h"

namespace dflockd::core {

const char* ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalid: return "invalid";
    case ErrorCode::kNotHeld: return "not_held";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kMaxLocks: return "max_locks";
    case ErrorCode::kMaxWaiters: return "max_waiters";
    case ErrorCode::kLimitMismatch: return "limit_mismatch";
    case ErrorCode::kNotEnqueued: return "not_enqueued";
    case ErrorCode::kAlreadyEnqueued: return "already_enqueued";
    case ErrorCode::kLeaseExpired: return "lease_expired";
    case ErrorCode::kMaxSubscriptions: return "max_subscriptions";
    case ErrorCode::kDraining: return "draining";
    case ErrorCode::kFenceUnavailable: return "fence_unavailable";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kCancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace dflockd::core
