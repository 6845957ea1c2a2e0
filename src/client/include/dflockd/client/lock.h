// Distributed locks and semaphores with a blocking API.
//
//   dflockd::DistributedLock lock("my-key");  // LockOptions{}: 10 s acquire timeout
//   {
//     std::lock_guard guard(lock);   // throws dflockd::TimeoutError if not granted
//     ...                            // the lease is renewed in the background
//   }                                // released here
//
// or manually: `if (lock.acquire()) { ...; lock.release(); }` (false on timeout).
// Each object runs a small background thread for its connection and lease renewal.
// The object satisfies Lockable (lock / try_lock / unlock), so std::lock_guard,
// std::unique_lock and std::scoped_lock work with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd {

class BasicLock {
 public:
  BasicLock(const BasicLock&) = delete;
  BasicLock& operator=(const BasicLock&) = delete;
  virtual ~BasicLock();  ///< releases if held, closes the connection

  bool acquire();                              ///< false on timeout
  bool acquire(std::chrono::seconds timeout);  ///< false on timeout
  bool release();  ///< false if nothing was held or the lease had already expired
  EnqueueStatus enqueue();
  bool wait(std::optional<std::chrono::seconds> timeout = {});  ///< false on timeout
  void close();

  // Lockable
  void lock();       ///< acquire() or throw TimeoutError
  bool try_lock();   ///< acquire(0 s)
  void unlock();     ///< release(), never throws

  const std::string& key() const;
  const ServerAddress& server() const;
  std::optional<std::string> token() const;
  std::int64_t lease() const;
  std::uint64_t fence() const;
  bool is_held() const;

  struct Impl;

 protected:
  explicit BasicLock(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

class DistributedLock : public BasicLock {
 public:
  // Overloads, not default arguments of class type: GCC 12 copies such a default
  // bitwise when the call sits in a coroutine, leaving strings that point at freed memory.
  explicit DistributedLock(std::string key);
  DistributedLock(std::string key, LockOptions options);
};

class DistributedSemaphore : public BasicLock {
 public:
  DistributedSemaphore(std::string key, std::uint32_t limit);  // (see DistributedLock)
  DistributedSemaphore(std::string key, std::uint32_t limit, LockOptions options);
};

/// RAII hold: acquires in the constructor (TimeoutError if not granted), releases in
/// the destructor. Same as std::lock_guard<BasicLock>.
using LockGuard = std::lock_guard<BasicLock>;

}  // namespace dflockd
