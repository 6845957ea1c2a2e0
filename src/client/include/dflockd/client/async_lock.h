// Distributed locks and semaphores for coroutine code (Boost.Asio, C++20).
//
//   dflockd::AsyncDistributedLock lock(executor, "my-key");  // LockOptions{} defaults
//   bool held = co_await lock.acquire();   // (GCC 12: keep co_await out of conditions)
//   if (held) {
//     ...                      // the lease is renewed by a coroutine on `executor`
//     co_await lock.release();
//   }
//
// Each object owns one connection (opened on acquire/enqueue, closed on release), to
// the server chosen by the sharding strategy. All of its work runs on a strand of the
// given executor; the accessors (token(), is_held(), …) may be read from any thread.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd {

class AsyncLockGuard;

class BasicAsyncLock {
 public:
  BasicAsyncLock(const BasicAsyncLock&) = delete;
  BasicAsyncLock& operator=(const BasicAsyncLock&) = delete;
  /// Stops renewal and closes the connection in the background (the server then
  /// releases what it held, unless auto-release is off there). Prefer co_await close().
  virtual ~BasicAsyncLock();

  /// Blocks up to the acquire timeout (or `timeout`); false when it ran out.
  boost::asio::awaitable<bool> acquire();
  boost::asio::awaitable<bool> acquire(std::chrono::seconds timeout);
  /// Acquire or throw TimeoutError; the guard releases when destroyed.
  boost::asio::awaitable<AsyncLockGuard> lock();
  /// Releases a held grant (or leaves the queue); false when there was nothing to
  /// release or the server no longer knew the token (the lease had expired).
  boost::asio::awaitable<bool> release();
  /// Phase 1 of a two-phase acquire: join the queue without blocking.
  boost::asio::awaitable<EnqueueStatus> enqueue();
  /// Phase 2: block until granted (default: the acquire timeout); false on timeout.
  /// Returns true at once if enqueue() already acquired.
  boost::asio::awaitable<bool> wait(std::optional<std::chrono::seconds> timeout = {});
  /// Releases if held and closes the connection.
  boost::asio::awaitable<void> close();
  /// Starts release() without waiting for it (for destructors).
  void release_detached();

  const std::string& key() const;
  const ServerAddress& server() const;
  std::optional<std::string> token() const;  ///< empty when not held
  std::int64_t lease() const;                ///< seconds, as last reported by the server
  std::uint64_t fence() const;               ///< the token's fencing counter (0 if not held)
  bool is_held() const;                      ///< false again once lost or released

  struct State;

 protected:
  BasicAsyncLock(boost::asio::any_io_executor executor, std::string key, ResourceKind kind,
                 std::uint32_t limit, LockOptions options);

 private:
  std::shared_ptr<State> state_;
};

class AsyncDistributedLock : public BasicAsyncLock {
 public:
  // Overloads, not default arguments of class type: GCC 12 copies such a default
  // bitwise when the call sits in a coroutine, leaving strings that point at freed memory.
  AsyncDistributedLock(boost::asio::any_io_executor executor, std::string key);
  AsyncDistributedLock(boost::asio::any_io_executor executor, std::string key,
                       LockOptions options);
};

class AsyncDistributedSemaphore : public BasicAsyncLock {
 public:
  AsyncDistributedSemaphore(boost::asio::any_io_executor executor, std::string key,
                            std::uint32_t limit);  // (overloads: see AsyncDistributedLock)
  AsyncDistributedSemaphore(boost::asio::any_io_executor executor, std::string key,
                            std::uint32_t limit, LockOptions options);
};

/// Holds an acquired lock; the destructor starts a release in the background.
/// `co_await guard.unlock()` releases and waits for the server's answer.
class AsyncLockGuard {
 public:
  explicit AsyncLockGuard(BasicAsyncLock& lock) : lock_(&lock) {}
  AsyncLockGuard(AsyncLockGuard&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
  AsyncLockGuard& operator=(AsyncLockGuard&&) = delete;
  ~AsyncLockGuard();
  boost::asio::awaitable<bool> unlock();

 private:
  BasicAsyncLock* lock_;
};

}  // namespace dflockd
