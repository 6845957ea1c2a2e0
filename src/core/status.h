// Error vocabulary shared by every transport, and a small value-or-error type.
#pragma once

#include <cstdint>
#include <utility>
#include <variant>

namespace dflockd::core {

/// Why a command failed. Mirrors the native wire vocabulary; each adapter maps it
/// to its own representation in exactly one place.
enum class ErrorCode : std::uint8_t {
  kInvalid,           ///< malformed arguments, bad pattern or channel
  kNotHeld,           ///< release/renew: no such key, or the token holds nothing there
  kTimeout,           ///< the wait ran out (or a try-lock found the resource busy)
  kMaxLocks,          ///< the resource table is full
  kMaxWaiters,        ///< the key's wait queue is full
  kLimitMismatch,     ///< semaphore exists with a different limit
  kNotEnqueued,       ///< wait without a matching enqueue
  kAlreadyEnqueued,   ///< second enqueue for the same key on one session
  kLeaseExpired,      ///< the grant expired before it could be reported
  kMaxSubscriptions,  ///< per-session subscription cap reached
  kDraining,          ///< the server is shutting down
  kFenceUnavailable,  ///< no fence can be persisted right now: no grant is issued
  kUnavailable,       ///< the shard that owns the key cannot be reached (sharded mode)
  kCancelled,         ///< the requester went away (cancel or session close)
};

const char* ToString(ErrorCode code);

/// Either a value or an ErrorCode. (std::expected needs C++23.)
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(ErrorCode error) : v_(error) {}             // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  ErrorCode error() const { return std::get<1>(v_); }

 private:
  std::variant<T, ErrorCode> v_;
};

}  // namespace dflockd::core
