// One native-protocol connection for coroutine code (Boost.Asio, C++20).
//
// Requests may be issued from any number of coroutines at once: they are written in
// order and their replies matched in order (the protocol answers in request order).
// `sig` pushes are handed to the signal handler. All of the connection's own work
// runs on a strand of the executor it was created on, so a multi-threaded
// io_context is fine.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd {

template <class T>
using awaitable = boost::asio::awaitable<T>;

class AsyncConnection {
 public:
  /// Connects (with the connect timeout), does the TLS handshake and `auth` when
  /// configured. Throws ConnectionError or AuthError.
  // Overloads, not default arguments of class type: GCC 12 copies such a default
  // bitwise when the call sits in a coroutine, leaving strings that point at freed memory.
  static awaitable<AsyncConnection> connect(boost::asio::any_io_executor executor,
                                            ServerAddress server);
  static awaitable<AsyncConnection> connect(boost::asio::any_io_executor executor,
                                            ServerAddress server, ConnectOptions options);

  AsyncConnection() = default;  ///< not connected; use connect()
  AsyncConnection(AsyncConnection&&) noexcept;
  AsyncConnection& operator=(AsyncConnection&&) noexcept;
  ~AsyncConnection();  ///< closes the connection

  /// Sends one framed request (three lines) and returns the reply line without its
  /// newline. `server_wait` is how long the server may legitimately block.
  awaitable<std::string> call(std::string request, std::chrono::seconds server_wait = {});

  /// Handler for `sig` pushes; runs on the connection's strand.
  void on_signal(std::function<void(Signal)> handler);
  /// Handler run once when the connection ends (by close() or by the peer).
  void on_close(std::function<void(const std::string& reason)> handler);

  bool is_open() const;
  void close();
  const ServerAddress& server() const;

  struct State;

 private:
  explicit AsyncConnection(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// Low-level protocol functions over a connection you manage (see the seeds'
// "Low-level functions"). Acquire-type calls throw TimeoutError on `timeout`.
awaitable<Grant> acquire(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout,
                         std::optional<std::chrono::seconds> lease_ttl = {});
awaitable<void> release(AsyncConnection& c, std::string_view key, std::string_view token);
awaitable<std::int64_t> renew(AsyncConnection& c, std::string_view key, std::string_view token,
                              std::optional<std::chrono::seconds> lease_ttl = {});
awaitable<EnqueueResult> enqueue(AsyncConnection& c, std::string_view key,
                                 std::optional<std::chrono::seconds> lease_ttl = {});
awaitable<Grant> wait(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout);
awaitable<Grant> sem_acquire(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout,
                             std::uint32_t limit, std::optional<std::chrono::seconds> lease_ttl = {});
awaitable<void> sem_release(AsyncConnection& c, std::string_view key, std::string_view token);
awaitable<std::int64_t> sem_renew(AsyncConnection& c, std::string_view key, std::string_view token,
                                  std::optional<std::chrono::seconds> lease_ttl = {});
awaitable<EnqueueResult> sem_enqueue(AsyncConnection& c, std::string_view key, std::uint32_t limit,
                                     std::optional<std::chrono::seconds> lease_ttl = {});
awaitable<Grant> sem_wait(AsyncConnection& c, std::string_view key, std::chrono::seconds timeout);
awaitable<Stats> stats(AsyncConnection& c);
awaitable<std::int64_t> sig_emit(AsyncConnection& c, std::string_view channel,
                                 std::string_view payload);
awaitable<void> ping(AsyncConnection& c);

}  // namespace dflockd
