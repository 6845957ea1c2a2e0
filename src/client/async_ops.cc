// The low-level coroutine functions declared in async_connection.h.
#include "dflockd/client/async_connection.h"
#include "async_run.h"

namespace dflockd {
namespace {
using wire::Resource;
using Lease = std::optional<std::chrono::seconds>;
}  // namespace

awaitable<Grant> acquire(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout,
                         Lease lease) {
  return RunOp(c, ops::Acquire(Resource::kLock, key, timeout, 1, lease));
}
awaitable<void> release(AsyncConnection& c, std::string_view key, std::string_view token) {
  return RunOp(c, ops::Release(Resource::kLock, key, token));
}
awaitable<std::int64_t> renew(AsyncConnection& c, std::string_view key, std::string_view token,
                              Lease lease) {
  return RunOp(c, ops::Renew(Resource::kLock, key, token, lease));
}
awaitable<EnqueueResult> enqueue(AsyncConnection& c, std::string_view key, Lease lease) {
  return RunOp(c, ops::Enqueue(Resource::kLock, key, 1, lease));
}
awaitable<Grant> wait(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout) {
  return RunOp(c, ops::Wait(Resource::kLock, key, timeout));
}
awaitable<Grant> sem_acquire(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout,
                             std::uint32_t limit, Lease lease) {
  return RunOp(c, ops::Acquire(Resource::kSemaphore, key, timeout, limit, lease));
}
awaitable<void> sem_release(AsyncConnection& c, std::string_view key, std::string_view token) {
  return RunOp(c, ops::Release(Resource::kSemaphore, key, token));
}
awaitable<std::int64_t> sem_renew(AsyncConnection& c, std::string_view key, std::string_view token,
                                  Lease lease) {
  return RunOp(c, ops::Renew(Resource::kSemaphore, key, token, lease));
}
awaitable<EnqueueResult> sem_enqueue(AsyncConnection& c, std::string_view key, std::uint32_t limit,
                                     Lease lease) {
  return RunOp(c, ops::Enqueue(Resource::kSemaphore, key, limit, lease));
}
awaitable<Grant> sem_wait(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout) {
  return RunOp(c, ops::Wait(Resource::kSemaphore, key, timeout));
}
awaitable<Stats> stats(AsyncConnection& c) { return RunOp(c, ops::Stats()); }
awaitable<std::int64_t> sig_emit(AsyncConnection& c, std::string_view channel,
                                 std::string_view payload) {
  return RunOp(c, ops::Emit(channel, payload));
}
awaitable<void> ping(AsyncConnection& c) { return RunOp(c, ops::Ping()); }

}  // namespace dflockd
