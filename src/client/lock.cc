#include "dflockd/client/lock.h"

#include "dflockd/client/async_lock.h"
#include "dflockd/client/errors.h"
#include "io_thread.h"

namespace dflockd {

struct BasicLock::Impl {
  IoThread io;  // declared first: outlives the lock that runs on it
  std::unique_ptr<BasicAsyncLock> lock;
};

namespace {
template <class AsyncType, class... Args>
std::unique_ptr<BasicLock::Impl> MakeImpl(Args&&... args) {
  auto impl = std::make_unique<BasicLock::Impl>();
  impl->lock = std::make_unique<AsyncType>(impl->io.executor(), std::forward<Args>(args)...);
  return impl;
}
}  // namespace

BasicLock::BasicLock(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

BasicLock::~BasicLock() {
  try {
    close();
  } catch (...) {
    // Destructors must not throw; the server frees the grant when the socket closes.
  }
}

bool BasicLock::acquire() { return impl_->io.Run(impl_->lock->acquire()); }
bool BasicLock::acquire(std::chrono::seconds timeout) {
  return impl_->io.Run(impl_->lock->acquire(timeout));
}
bool BasicLock::release() { return impl_->io.Run(impl_->lock->release()); }
EnqueueStatus BasicLock::enqueue() { return impl_->io.Run(impl_->lock->enqueue()); }
bool BasicLock::wait(std::optional<std::chrono::seconds> timeout) {
  return impl_->io.Run(impl_->lock->wait(timeout));
}
void BasicLock::close() { impl_->io.Run(impl_->lock->close()); }

void BasicLock::lock() {
  if (!acquire()) {
    throw TimeoutError("acquire '" + key() + "': not granted within the acquire timeout");
  }
}

bool BasicLock::try_lock() { return acquire(std::chrono::seconds(0)); }

void BasicLock::unlock() {
  try {
    release();
  } catch (...) {
    // unlock() is called from destructors (std::lock_guard); a failed release leaves
    // the grant to expire or to the closed connection.
  }
}

const std::string& BasicLock::key() const { return impl_->lock->key(); }
const ServerAddress& BasicLock::server() const { return impl_->lock->server(); }
std::optional<std::string> BasicLock::token() const { return impl_->lock->token(); }
std::int64_t BasicLock::lease() const { return impl_->lock->lease(); }
std::uint64_t BasicLock::fence() const { return impl_->lock->fence(); }
bool BasicLock::is_held() const { return impl_->lock->is_held(); }

DistributedLock::DistributedLock(std::string key) : DistributedLock(std::move(key), LockOptions{}) {}

DistributedLock::DistributedLock(std::string key, LockOptions options)
    : BasicLock(MakeImpl<AsyncDistributedLock>(std::move(key), std::move(options))) {}

DistributedSemaphore::DistributedSemaphore(std::string key, std::uint32_t limit)
    : DistributedSemaphore(std::move(key), limit, LockOptions{}) {}

DistributedSemaphore::DistributedSemaphore(std::string key, std::uint32_t limit, LockOptions options)
    : BasicLock(MakeImpl<AsyncDistributedSemaphore>(std::move(key), limit, std::move(options))) {}

}  // namespace dflockd
