#include "dflockd/client/async_signal.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <deque>
#include <vector>

#include "dflockd/client/async_connection.h"
#include "dflockd/client/errors.h"
#include "async_run.h"

namespace dflockd {
namespace asio = boost::asio;
using asio::use_awaitable;

struct AsyncSignalConn::State : std::enable_shared_from_this<AsyncSignalConn::State> {
  State(asio::any_io_executor ex, SignalOptions o)
      : executor(ex), strand(asio::make_strand(ex)), options(std::move(o)), heartbeat(strand) {}

  awaitable<void> Connect();
  // Coroutines that outlive the call which started them hold the state through a
  // parameter, so the frame owns the reference from its first instruction.
  static awaitable<std::optional<Signal>> Next(std::shared_ptr<State> self,
                                               std::optional<std::chrono::milliseconds> timeout);
  static awaitable<void> Heartbeat(std::shared_ptr<State> self);
  void Deliver(Signal signal);
  void Ended();
  void WakeReaders();

  template <class T>
  awaitable<T> Run(ops::Op<T> op) {  // connects on first use
    co_await Connect();
    if constexpr (std::is_void_v<T>) {
      co_await RunOp(*connection, std::move(op));
    } else {
      T result = co_await RunOp(*connection, std::move(op));
      co_return result;
    }
  }

  asio::any_io_executor executor;
  asio::any_io_executor strand;
  SignalOptions options;
  std::optional<AsyncConnection> connection;
  asio::steady_timer heartbeat;
  std::deque<Signal> received;
  std::vector<asio::steady_timer*> readers;  // next() calls waiting for a signal
  bool ended = false;                         // the connection was closed: iteration is over
  std::atomic<bool> open{false};
  std::atomic<std::uint64_t> dropped{0};
};

awaitable<void> AsyncSignalConn::State::Connect() {
  if (ended) {
    throw ConnectionError("signal connection to " + options.server.to_string() + " is closed");
  }
  if (connection) co_return;
  auto fresh = co_await AsyncConnection::connect(executor, options.server, options.connection);
  if (connection) co_return;  // another coroutine connected while we did
  std::weak_ptr<State> weak = weak_from_this();
  fresh.on_signal([weak](Signal signal) {
    if (auto self = weak.lock()) {
      asio::post(self->strand, [self, signal = std::move(signal)]() mutable {
        self->Deliver(std::move(signal));
      });
    }
  });
  fresh.on_close([weak](const std::string&) {
    if (auto self = weak.lock()) asio::post(self->strand, [self] { self->Ended(); });
  });
  connection.emplace(std::move(fresh));
  open = true;
  asio::co_spawn(strand, Heartbeat(shared_from_this()), asio::detached);
}

void AsyncSignalConn::State::Deliver(Signal signal) {
  if (received.size() >= options.buffer_capacity) {
    ++dropped;
    return;
  }
  received.push_back(std::move(signal));
  WakeReaders();
}

void AsyncSignalConn::State::Ended() {
  ended = true;
  open = false;
  heartbeat.cancel();
  WakeReaders();
}

void AsyncSignalConn::State::WakeReaders() {
  for (auto* timer : readers) timer->cancel();
}

awaitable<void> AsyncSignalConn::State::Heartbeat(std::shared_ptr<State> self) {
  while (!self->ended) {
    self->heartbeat.expires_after(self->options.heartbeat);
    boost::system::error_code ec;
    co_await self->heartbeat.async_wait(asio::redirect_error(use_awaitable, ec));
    if (self->ended || !self->connection) break;
    bool failed = false;
    try {
      co_await self->connection->call(wire::Ping().bytes);
    } catch (const Error&) {
      failed = true;  // the connection reports its own end through on_close
    }
    if (failed) break;
  }
}

awaitable<std::optional<Signal>> AsyncSignalConn::State::Next(
    std::shared_ptr<State> self, std::optional<std::chrono::milliseconds> timeout) {
  auto deadline = timeout ? asio::steady_timer::clock_type::now() + *timeout
                          : asio::steady_timer::time_point::max();
  asio::steady_timer timer(self->strand);
  while (self->received.empty() && !self->ended) {
    timer.expires_at(deadline);
    self->readers.push_back(&timer);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    auto& readers = self->readers;
    readers.erase(std::find(readers.begin(), readers.end(), &timer));
    if (!ec) break;  // the deadline passed
  }
  std::optional<Signal> signal;
  if (!self->received.empty()) {
    signal = std::move(self->received.front());
    self->received.pop_front();
  }
  co_return signal;
}

AsyncSignalConn::AsyncSignalConn(asio::any_io_executor executor)
    : AsyncSignalConn(std::move(executor), SignalOptions{}) {}

AsyncSignalConn::AsyncSignalConn(asio::any_io_executor executor, SignalOptions options)
    : state_(std::make_shared<State>(executor, std::move(options))) {}

AsyncSignalConn::~AsyncSignalConn() {
  asio::post(state_->strand, [state = state_] {
    if (state->connection) state->connection->close();
    state->Ended();
  });
}

awaitable<void> AsyncSignalConn::connect() {
  return asio::co_spawn(state_->strand, state_->Connect(), use_awaitable);
}

awaitable<void> AsyncSignalConn::listen(std::string pattern) {
  return listen(std::move(pattern), std::string());
}

awaitable<void> AsyncSignalConn::unlisten(std::string pattern) {
  return unlisten(std::move(pattern), std::string());
}

awaitable<void> AsyncSignalConn::listen(std::string pattern, std::string group) {
  return asio::co_spawn(state_->strand, state_->Run(ops::Listen(pattern, group)), use_awaitable);
}

awaitable<void> AsyncSignalConn::unlisten(std::string pattern, std::string group) {
  return asio::co_spawn(state_->strand, state_->Run(ops::Unlisten(pattern, group)), use_awaitable);
}

awaitable<std::int64_t> AsyncSignalConn::emit(std::string channel, std::string payload) {
  return asio::co_spawn(state_->strand, state_->Run(ops::Emit(channel, payload)), use_awaitable);
}

awaitable<std::optional<Signal>> AsyncSignalConn::next(
    std::optional<std::chrono::milliseconds> timeout) {
  return asio::co_spawn(state_->strand, State::Next(state_, timeout), use_awaitable);
}

awaitable<void> AsyncSignalConn::close() {
  return asio::co_spawn(
      state_->strand,
      [state = state_]() -> awaitable<void> {
        if (state->connection) state->connection->close();
        state->connection.reset();
        state->Ended();
        co_return;
      },
      use_awaitable);
}

bool AsyncSignalConn::is_open() const { return state_->open; }
std::uint64_t AsyncSignalConn::dropped() const { return state_->dropped; }
const ServerAddress& AsyncSignalConn::server() const { return state_->options.server; }

}  // namespace dflockd
