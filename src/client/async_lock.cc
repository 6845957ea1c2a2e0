#include "dflockd/client/async_lock.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <mutex>

#include "dflockd/client/async_connection.h"
#include "dflockd/client/errors.h"
#include "async_run.h"

namespace dflockd {
namespace asio = boost::asio;
using asio::use_awaitable;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {
// The server closes a connection after 23 s without a request (its default read
// timeout), so a renewer that would sleep longer pings in between.
constexpr auto kKeepAlive = seconds(15);
// A server that reports a zero-length lease is not renewed in a tight loop.
constexpr auto kFallbackRenewInterval = seconds(30);
}  // namespace

struct BasicAsyncLock::State : std::enable_shared_from_this<BasicAsyncLock::State> {
  State(asio::any_io_executor ex, std::string k, ResourceKind kd, std::uint32_t lim, LockOptions o)
      : executor(ex), strand(asio::make_strand(ex)), key(std::move(k)), kind(kd), limit(lim),
        options(std::move(o)), renew_timer(strand) {
    if (options.servers.empty()) throw InvalidArgument("no servers configured");
    auto index = options.sharding_strategy(key, options.servers.size());
    if (index >= options.servers.size()) {
      throw InvalidArgument("sharding strategy returned server " + std::to_string(index) + " of " +
                            std::to_string(options.servers.size()));
    }
    server = options.servers[index];
    if (!(options.renew_ratio > 0)) throw InvalidArgument("renew_ratio must be positive");
  }

  awaitable<void> EnsureConnected();
  awaitable<bool> Acquire(seconds timeout);
  awaitable<bool> Release();
  awaitable<EnqueueStatus> Enqueue();
  awaitable<bool> Wait(seconds timeout);
  awaitable<void> Close();
  awaitable<void> RenewLoop(std::shared_ptr<State> keep_alive, std::uint64_t generation);
  /// renew_after_disconnect: reconnect and renew by token until the lease runs out.
  awaitable<void> Recover(std::shared_ptr<State> keep_alive, std::uint64_t generation,
                          std::string reason);
  void OnGranted(Grant grant);
  /// `recoverable`: the server may still hold it (the connection or the server went
  /// away, not a refused renewal): with renew_after_disconnect, Recover is tried first.
  void MarkLost(std::uint64_t generation, const std::string& reason, bool recoverable = false);
  void Forget();
  void CheckNotBusy() const;
  seconds RenewInterval() const;

  template <class T>
  awaitable<T> Run(ops::Op<T> op) {  // callers have connected first
    return RunOp(*connection, std::move(op));
  }

  asio::any_io_executor executor;
  asio::any_io_executor strand;
  std::string key;
  ResourceKind kind;
  std::uint32_t limit;
  LockOptions options;
  ServerAddress server;
  std::optional<AsyncConnection> connection;
  std::uint64_t connection_serial = 0;  // which connection is the current one
  asio::steady_timer renew_timer;
  bool queued = false;           // enqueue() answered `queued`; wait() not done yet
  bool recovering = false;       // Recover is running
  steady_clock::time_point lease_end{};  // by our clock: the last grant/renewal + lease
  std::uint64_t generation = 0;  // bumped on every grant and every end of a grant

  // What the accessors show; written on the strand, read from any thread.
  mutable std::mutex mutex;
  std::optional<Grant> grant;
};

awaitable<void> BasicAsyncLock::State::EnsureConnected() {
  if (connection && connection->is_open()) co_return;
  connection.reset();
  auto fresh = co_await AsyncConnection::connect(executor, server, options.connection);
  // The connection owns the grant on the server: if it drops, the grant is gone.
  // (A connection closed on purpose is no longer the current one when this runs.)
  auto serial = ++connection_serial;
  fresh.on_close([weak = weak_from_this(), serial](const std::string& reason) {
    if (auto self = weak.lock()) {
      asio::post(self->strand, [self, serial, reason] {
        if (serial == self->connection_serial) {
          self->MarkLost(self->generation, "connection lost: " + reason, /*recoverable=*/true);
        }
      });
    }
  });
  connection.emplace(std::move(fresh));
}

void BasicAsyncLock::State::CheckNotBusy() const {
  std::lock_guard lock(mutex);
  if (grant) throw Error("'" + key + "' is already held by this object (locks are not re-entrant)");
}

seconds BasicAsyncLock::State::RenewInterval() const {
  std::int64_t lease;
  {
    std::lock_guard lock(mutex);
    lease = grant ? grant->lease : 0;
  }
  if (lease <= 0) return kFallbackRenewInterval;
  auto interval = seconds(static_cast<std::int64_t>(static_cast<double>(lease) * options.renew_ratio));
  return std::max(seconds(1), interval);
}

void BasicAsyncLock::State::OnGranted(Grant granted) {
  lease_end = steady_clock::now() + seconds(std::max<std::int64_t>(granted.lease, 0));
  {
    std::lock_guard lock(mutex);
    grant = std::move(granted);
  }
  queued = false;
  asio::co_spawn(strand, RenewLoop(shared_from_this(), ++generation), asio::detached);
}

void BasicAsyncLock::State::Forget() {
  {
    std::lock_guard lock(mutex);
    grant.reset();
  }
  queued = false;
  ++generation;
  renew_timer.cancel();
}

void BasicAsyncLock::State::MarkLost(std::uint64_t of_generation, const std::string& reason,
                                     bool recoverable) {
  bool was_held;
  {
    std::lock_guard lock(mutex);
    was_held = grant.has_value();
  }
  if (of_generation != generation || !was_held) {
    queued = false;
    return;
  }
  if (recovering) return;  // Recover decides
  if (recoverable && options.renew_after_disconnect) {
    recovering = true;
    asio::co_spawn(strand, Recover(shared_from_this(), of_generation, reason), asio::detached);
    return;
  }
  Forget();
  if (options.on_lost) options.on_lost(key, reason);
}

awaitable<void> BasicAsyncLock::State::RenewLoop([[maybe_unused]] std::shared_ptr<State> keep_alive,
                                                std::uint64_t my_generation) {
  auto next_renew = steady_clock::now() + RenewInterval();
  while (my_generation == generation) {
    renew_timer.expires_at(std::min(next_renew, steady_clock::now() + kKeepAlive));
    boost::system::error_code ec;
    co_await renew_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    if (my_generation != generation || recovering) co_return;  // Recover took over
    std::optional<Grant> current;
    {
      std::lock_guard lock(mutex);
      current = grant;
    }
    if (!current) co_return;
    std::optional<std::string> failure;
    bool recoverable = true;
    try {
      if (steady_clock::now() >= next_renew) {
        auto lease = co_await Run(ops::Renew(kind, key, current->token, options.lease_ttl));
        if (my_generation != generation) co_return;
        {
          std::lock_guard lock(mutex);
          if (grant) grant->lease = lease;
        }
        lease_end = steady_clock::now() + seconds(std::max<std::int64_t>(lease, 0));
        next_renew = steady_clock::now() + RenewInterval();
      } else {
        co_await Run(ops::Ping());
      }
    } catch (const ServerError& e) {
      // Refused: the token holds nothing any more. (A plain `error` is a server that
      // cannot answer for the key right now, e.g. a durable shard between leaders.)
      failure = std::string("renewal failed: ") + e.what();
      recoverable = e.code() == "error";
    } catch (const Error& e) {
      // Leave the loop through the flag: a co_return inside a handler makes GCC 12
      // destroy the frame's locals twice.
      failure = std::string("renewal failed: ") + e.what();
    }
    if (failure) {
      MarkLost(my_generation, *failure, recoverable);
      co_return;
    }
  }
}

awaitable<void> BasicAsyncLock::State::Recover([[maybe_unused]] std::shared_ptr<State> keep_alive,
                                              std::uint64_t my_generation, std::string reason) {
  std::vector<ServerAddress> candidates{server};
  for (const auto& s : options.failover_servers) {
    if (!(s == server)) candidates.push_back(s);
  }
  std::optional<Grant> held;
  {
    std::lock_guard lock(mutex);
    held = grant;
  }
  auto backoff = std::chrono::milliseconds(100);
  std::size_t attempt = 0;
  bool refused = false;
  while (held && my_generation == generation && !refused && steady_clock::now() < lease_end) {
    server = candidates[attempt++ % candidates.size()];
    ++connection_serial;  // the old connection's close is not news any more
    if (connection) connection->close();
    connection.reset();
    std::optional<std::int64_t> renewed;
    try {
      co_await EnsureConnected();
      renewed = co_await Run(ops::Renew(kind, key, held->token, options.lease_ttl));
    } catch (const ServerError& e) {
      reason = e.what();
      refused = e.code() != "error";
    } catch (const Error& e) {
      reason = e.what();
    }
    if (my_generation != generation) break;
    if (renewed) {
      // Adopted by this connection; renewals go on from here.
      recovering = false;
      {
        std::lock_guard lock(mutex);
        if (grant) grant->lease = *renewed;
      }
      lease_end = steady_clock::now() + seconds(std::max<std::int64_t>(*renewed, 0));
      asio::co_spawn(strand, RenewLoop(shared_from_this(), ++generation), asio::detached);
      co_return;
    }
    if (refused) break;
    renew_timer.expires_after(backoff);
    boost::system::error_code ec;
    co_await renew_timer.async_wait(asio::redirect_error(use_awaitable, ec));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
  recovering = false;
  if (my_generation == generation) {
    MarkLost(my_generation, refused ? reason : "lease ran out while reconnecting: " + reason);
  }
}

awaitable<bool> BasicAsyncLock::State::Acquire(seconds timeout) {
  auto self = shared_from_this();
  CheckNotBusy();
  if (queued) throw Error("'" + key + "' is enqueued: call wait(), not acquire()");
  co_await EnsureConnected();
  bool timed_out = false;  // not co_return in the handler (GCC 12 bug, see RenewLoop)
  try {
    auto granted = co_await Run(ops::Acquire(kind, key, timeout, limit, options.lease_ttl));
    OnGranted(std::move(granted));
  } catch (const TimeoutError&) {
    timed_out = true;
  }
  co_return !timed_out;
}

awaitable<bool> BasicAsyncLock::State::Release() {
  auto self = shared_from_this();
  std::optional<Grant> held;
  {
    std::lock_guard lock(mutex);
    held = grant;
  }
  bool was_queued = queued;
  Forget();
  bool released = false;
  if (held && connection && connection->is_open()) {
    try {
      co_await Run(ops::Release(kind, key, held->token));
      released = true;
    } catch (const ServerError&) {
      // The server no longer knew the token: the lease had already expired.
    } catch (const ConnectionError&) {
      // The connection died; the server released the grant when it noticed.
    }
  }
  // Closing is what removes a queued waiter; a connection per grant also keeps the
  // server's idle read timeout out of the picture between grants.
  ++connection_serial;
  if (connection) connection->close();
  connection.reset();
  co_return released || (was_queued && !held);
}

awaitable<EnqueueStatus> BasicAsyncLock::State::Enqueue() {
  auto self = shared_from_this();
  CheckNotBusy();
  if (queued) throw ServerError("error_already_enqueued", "enqueue '" + key + "': already enqueued");
  co_await EnsureConnected();
  auto result = co_await Run(ops::Enqueue(kind, key, limit, options.lease_ttl));
  if (result.status == EnqueueStatus::kAcquired) {
    OnGranted(std::move(result.grant));
  } else {
    queued = true;
  }
  co_return result.status;
}

awaitable<bool> BasicAsyncLock::State::Wait(seconds timeout) {
  auto self = shared_from_this();
  {
    std::lock_guard lock(mutex);
    if (grant) co_return true;  // enqueue() was granted at once
  }
  if (!queued || !connection) throw Error("wait() on '" + key + "' without enqueue()");
  bool timed_out = false;  // not co_return in the handler (GCC 12 bug, see RenewLoop)
  try {
    auto granted = co_await Run(ops::Wait(kind, key, timeout));
    OnGranted(std::move(granted));
  } catch (const TimeoutError&) {
    queued = false;  // the server removed the waiter
    timed_out = true;
  }
  co_return !timed_out;
}

awaitable<void> BasicAsyncLock::State::Close() {
  co_await Release();
}

// --- the public face ---------------------------------------------------------------

BasicAsyncLock::BasicAsyncLock(asio::any_io_executor executor, std::string key, ResourceKind kind,
                               std::uint32_t limit, LockOptions options)
    : state_(std::make_shared<State>(executor, std::move(key), kind, limit, std::move(options))) {}

BasicAsyncLock::~BasicAsyncLock() {
  // The lambda holds the state: the member coroutine alone would not keep it alive
  // until it first runs.
  asio::co_spawn(
      state_->strand, [state = state_]() -> awaitable<void> { co_await state->Close(); },
      asio::detached);
}

awaitable<bool> BasicAsyncLock::acquire() { return acquire(state_->options.acquire_timeout); }

awaitable<bool> BasicAsyncLock::acquire(seconds timeout) {
  return asio::co_spawn(state_->strand, state_->Acquire(timeout), use_awaitable);
}

awaitable<AsyncLockGuard> BasicAsyncLock::lock() {
  // co_await only as a statement or an initializer: GCC 12 miscompiles it inside
  // conditions and larger expressions (the frame is resumed in a bad state).
  const bool granted = co_await acquire();
  if (!granted) {
    throw TimeoutError("acquire '" + state_->key + "': not granted within " +
                       std::to_string(state_->options.acquire_timeout.count()) + " s");
  }
  co_return AsyncLockGuard(*this);
}

awaitable<bool> BasicAsyncLock::release() {
  return asio::co_spawn(state_->strand, state_->Release(), use_awaitable);
}

awaitable<EnqueueStatus> BasicAsyncLock::enqueue() {
  return asio::co_spawn(state_->strand, state_->Enqueue(), use_awaitable);
}

awaitable<bool> BasicAsyncLock::wait(std::optional<seconds> timeout) {
  return asio::co_spawn(state_->strand, state_->Wait(timeout.value_or(state_->options.acquire_timeout)),
                        use_awaitable);
}

awaitable<void> BasicAsyncLock::close() {
  return asio::co_spawn(state_->strand, state_->Close(), use_awaitable);
}

void BasicAsyncLock::release_detached() {
  asio::co_spawn(
      state_->strand,
      [state = state_]() -> awaitable<void> {
        bool released = co_await state->Release();  // (a statement: see lock())
        static_cast<void>(released);
      },
      asio::detached);
}

const std::string& BasicAsyncLock::key() const { return state_->key; }
const ServerAddress& BasicAsyncLock::server() const { return state_->server; }

std::optional<std::string> BasicAsyncLock::token() const {
  std::lock_guard lock(state_->mutex);
  return state_->grant ? std::optional(state_->grant->token) : std::nullopt;
}

std::int64_t BasicAsyncLock::lease() const {
  std::lock_guard lock(state_->mutex);
  return state_->grant ? state_->grant->lease : 0;
}

std::uint64_t BasicAsyncLock::fence() const {
  std::lock_guard lock(state_->mutex);
  return state_->grant ? state_->grant->fence() : 0;
}

bool BasicAsyncLock::is_held() const {
  std::lock_guard lock(state_->mutex);
  return state_->grant.has_value();
}

AsyncDistributedLock::AsyncDistributedLock(asio::any_io_executor executor, std::string key)
    : AsyncDistributedLock(std::move(executor), std::move(key), LockOptions{}) {}

AsyncDistributedLock::AsyncDistributedLock(asio::any_io_executor executor, std::string key,
                                           LockOptions options)
    : BasicAsyncLock(std::move(executor), std::move(key), ResourceKind::kLock, 1, std::move(options)) {}

AsyncDistributedSemaphore::AsyncDistributedSemaphore(asio::any_io_executor executor, std::string key,
                                                     std::uint32_t limit)
    : AsyncDistributedSemaphore(std::move(executor), std::move(key), limit, LockOptions{}) {}

AsyncDistributedSemaphore::AsyncDistributedSemaphore(asio::any_io_executor executor, std::string key,
                                                     std::uint32_t limit, LockOptions options)
    : BasicAsyncLock(std::move(executor), std::move(key), ResourceKind::kSemaphore, limit,
                     std::move(options)) {}

AsyncLockGuard::~AsyncLockGuard() {
  if (lock_ != nullptr) lock_->release_detached();
}

awaitable<bool> AsyncLockGuard::unlock() {
  auto* lock = std::exchange(lock_, nullptr);
  if (lock == nullptr) co_return false;
  const bool released = co_await lock->release();
  co_return released;
}

}  // namespace dflockd
