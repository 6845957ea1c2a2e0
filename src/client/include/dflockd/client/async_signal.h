// Signals (NATS-style pub/sub) for coroutine code.
//
//   dflockd::AsyncSignalConn sc(executor);   // SignalOptions{}: 127.0.0.1:6388
//   co_await sc.listen("events.>");
//   while (auto signal = co_await sc.next()) std::cout << signal->channel << '\n';
//
// Received signals are buffered (bounded; overflow is counted in dropped()); next()
// hands them out in arrival order and returns nothing once the connection is closed.
// A ping every 15 s keeps the connection alive.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd {

class AsyncSignalConn {
 public:
  // Overloads, not default arguments of class type: GCC 12 copies such a default
  // bitwise when the call sits in a coroutine, leaving strings that point at freed memory.
  explicit AsyncSignalConn(boost::asio::any_io_executor executor);
  AsyncSignalConn(boost::asio::any_io_executor executor, SignalOptions options);
  AsyncSignalConn(const AsyncSignalConn&) = delete;
  AsyncSignalConn& operator=(const AsyncSignalConn&) = delete;
  ~AsyncSignalConn();  ///< closes in the background

  /// Connects (listen/unlisten/emit connect on first use too).
  boost::asio::awaitable<void> connect();
  /// Subscribes to a pattern (`*` one token, `>` the rest); with a group, each signal
  /// goes to one member of the group.
  boost::asio::awaitable<void> listen(std::string pattern);
  boost::asio::awaitable<void> listen(std::string pattern, std::string group);
  boost::asio::awaitable<void> unlisten(std::string pattern);
  boost::asio::awaitable<void> unlisten(std::string pattern, std::string group);
  /// Publishes; returns how many copies the server delivered.
  boost::asio::awaitable<std::int64_t> emit(std::string channel, std::string payload);
  /// The next signal; empty when the connection is closed or `timeout` passed.
  boost::asio::awaitable<std::optional<Signal>> next(
      std::optional<std::chrono::milliseconds> timeout = {});
  boost::asio::awaitable<void> close();

  bool is_open() const;
  std::uint64_t dropped() const;  ///< signals lost to a full local buffer
  const ServerAddress& server() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace dflockd
