#include "http/status_map.h"

namespace dflockd::http {

HttpError ErrorFor(core::ErrorCode code) {
  using core::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalid: return {400, "invalid", "invalid argument"};
    case ErrorCode::kNotHeld: return {404, "not_held", "unknown key, or the token holds nothing there"};
    case ErrorCode::kTimeout: return {409, "timeout", "timed out"};
    case ErrorCode::kMaxLocks: return {429, "max_locks", "max locks reached"};
    case ErrorCode::kMaxWaiters: return {429, "max_waiters", "max waiters reached for this key"};
    case ErrorCode::kMaxSubscriptions: return {429, "max_subscriptions", "max subscriptions reached"};
    case ErrorCode::kLimitMismatch: return {409, "limit_mismatch", "semaphore exists with a different limit"};
    case ErrorCode::kNotEnqueued: return {409, "not_enqueued", "not enqueued on this connection"};
    case ErrorCode::kAlreadyEnqueued: return {409, "already_enqueued", "already enqueued on this connection"};
    case ErrorCode::kLeaseExpired: return {409, "lease_expired", "lease expired before it was collected"};
    case ErrorCode::kDraining: return {503, "draining", "server is shutting down"};
    case ErrorCode::kFenceUnavailable:
      return {503, "fence_unavailable", "fence state cannot be persisted: no grant is issued"};
    case ErrorCode::kUnavailable:
      return {503, "unavailable", "the shard that owns this key is unreachable"};
    case ErrorCode::kCancelled: return {499, "cancelled", "cancelled"};
  }
  return {500, "internal", "internal error"};
}

}  // namespace dflockd::http
