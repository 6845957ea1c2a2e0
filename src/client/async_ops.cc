// The low-level coroutine functions declared in async_connection.h.
#include "dflockd/client/async_connection.h"
#include "ops.h"

namespace dflockd {
namespace {
using ops::Op;
using wire::Resource;
using Lease = std::optional<std::chrono::seconds>;

template <class T>
awaitable<T> Run(AsyncConnection& c, Op<T> op) {
  auto reply = co_await c.call(std::move(op.request.bytes), op.request.server_wait);
  if constexpr (std::is_void_v<T>) {
    op.parse(reply);
  } else {
    co_return op.parse(reply);
  }
}
}  // namespace

awaitable<Grant> acquire(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout,
                         Lease lease) {
  return Run(c, ops::Acquire(Resource::kLock, key, timeout, 1, lease));
}
awaitable<void> release(AsyncConnection& c, std::string_view key, std::string_view token) {
  return Run(c, ops::Release(Resource::kLock, key, token));
}
awaitable<std::int64_t> renew(AsyncConnection& c, std::string_view key, std::string_view token,
                              Lease lease) {
  return Run(c, ops::Renew(Resource::kLock, key, token, lease));
}
awaitable<EnqueueResult> enqueue(AsyncConnection& c, std::string_view key, Lease lease) {
  return Run(c, ops::Enqueue(Resource::kLock, key, 1, lease));
}
awaitable<Grant> wait(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout) {
  return Run(c, ops::Wait(Resource::kLock, key, timeout));
}
awaitable<Grant> sem_acquire(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout,
                             std::uint32_t limit, Lease lease) {
  return Run(c, ops::Acquire(Resource::kSemaphore, key, timeout, limit, lease));
}
awaitable<void> sem_release(AsyncConnection& c, std::string_view key, std::string_view token) {
  return Run(c, ops::Release(Resource::kSemaphore, key, token));
}
awaitable<std::int64_t> sem_renew(AsyncConnection& c, std::string_view key, std::string_view token,
                                  Lease lease) {
  return Run(c, ops::Renew(Resource::kSemaphore, key, token, lease));
}
awaitable<EnqueueResult> sem_enqueue(AsyncConnection& c, std::string_view key, std::uint32_t limit,
                                     Lease lease) {
  return Run(c, ops::Enqueue(Resource::kSemaphore, key, limit, lease));
}
awaitable<Grant> sem_wait(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout) {
  return Run(c, ops::Wait(Resource::kSemaphore, key, timeout));
}
awaitable<Stats> stats(AsyncConnection& c) { return Run(c, ops::Stats()); }
awaitable<std::int64_t> sig_emit(AsyncConnection& c, std::string_view channel,
                                 std::string_view payload) {
  return Run(c, ops::Emit(channel, payload));
}
awaitable<void> ping(AsyncConnection& c) { return Run(c, ops::Ping()); }

}  // namespace dflockd
