#include "dflockd/client/async_connection.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <deque>

#include "dflockd/client/errors.h"
#include "tls_context.h"
#include "wire.h"

namespace dflockd {
namespace asio = boost::asio;
using asio::ip::tcp;
using asio::use_awaitable;

namespace {
// A reply or push line is at most `sig ` + 64 KiB; anything longer is not our server.
constexpr std::size_t kMaxLine = 65536 + 512;

struct PendingReply {
  explicit PendingReply(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;  // cancelled when the reply arrives or the connection ends
  std::optional<std::string> reply;
};
}  // namespace

struct AsyncConnection::State : std::enable_shared_from_this<AsyncConnection::State> {
  State(asio::any_io_executor ex, ServerAddress address, ConnectOptions opts)
      : strand(asio::make_strand(ex)), server(std::move(address)), options(std::move(opts)) {}

  tcp::socket& lowest() { return tls ? tls->next_layer() : *plain; }

  awaitable<void> Open();
  awaitable<std::string> Call(std::string request, std::chrono::seconds server_wait);
  // Spawned loops take the state as a parameter: the frame owns a reference from the
  // moment it is created, before it first runs.
  awaitable<void> ReadLoop(std::shared_ptr<State> keep_alive);
  awaitable<void> WriteLoop(std::shared_ptr<State> keep_alive);
  void Close(const std::string& reason);

  asio::any_io_executor strand;
  ServerAddress server;
  ConnectOptions options;
  std::optional<tcp::resolver> resolver;
  std::shared_ptr<asio::ssl::context> tls_context;
  std::optional<tcp::socket> plain;
  std::optional<asio::ssl::stream<tcp::socket>> tls;
  std::string read_buffer;
  std::deque<std::string> outbox;
  bool writing = false;
  std::deque<std::shared_ptr<PendingReply>> pending;
  std::atomic<bool> open{false};  // read by is_open() from any thread
  bool closed = false;
  std::string close_reason = "not connected";
  std::function<void(Signal)> signal_handler;
  std::function<void(const std::string&)> close_handler;
};

awaitable<void> AsyncConnection::State::Open() {
  auto self = shared_from_this();
  if (options.tls.enabled || options.tls.context) {
    tls_context = options.tls.context ? options.tls.context : MakeClientTlsContext(options.tls, server.host);
    tls.emplace(strand, *tls_context);
    PrepareTlsStream(*tls, options.tls, server.host);
  } else {
    plain.emplace(strand);
  }
  resolver.emplace(strand);
  // A watchdog instead of racing operations: when it fires it aborts whatever step
  // (resolve, connect, handshake) is in flight, and that step then fails.
  auto timed_out = std::make_shared<bool>(false);
  asio::steady_timer watchdog(strand, options.connect_timeout);
  watchdog.async_wait([self, timed_out](boost::system::error_code ec) {
    if (ec) return;
    *timed_out = true;
    self->resolver->cancel();
    self->lowest().close(ec);
  });
  try {
    auto endpoints = co_await resolver->async_resolve(server.host, std::to_string(server.port),
                                                      use_awaitable);
    co_await asio::async_connect(lowest(), endpoints, use_awaitable);
    lowest().set_option(tcp::no_delay(true));
    if (tls) co_await tls->async_handshake(asio::ssl::stream_base::client, use_awaitable);
  } catch (const boost::system::system_error& e) {
    watchdog.cancel();
    if (*timed_out) {
      throw ConnectionError("connecting to " + server.to_string() + " timed out after " +
                            std::to_string(options.connect_timeout.count()) + " ms");
    }
    throw ConnectionError("cannot connect to " + server.to_string() + ": " + e.code().message());
  }
  watchdog.cancel();
  open = true;
  close_reason.clear();
  asio::co_spawn(strand, ReadLoop(shared_from_this()), asio::detached);
  if (options.auth_token) {
    auto reply = co_await Call(wire::Auth(*options.auth_token).bytes, std::chrono::seconds{0});
    if (reply != "ok") {
      Close("authentication failed");
      if (reply == "error") {
        throw AuthError("auth to " + server.to_string() + " refused: the server has no auth token set");
      }
      wire::ThrowStatus(reply, "auth to " + server.to_string());
    }
  }
}

awaitable<std::string> AsyncConnection::State::Call(std::string request,
                                                    std::chrono::seconds server_wait) {
  auto self = shared_from_this();
  if (!open) {
    throw ConnectionError("connection to " + server.to_string() + " is closed: " + close_reason);
  }
  auto waiter = std::make_shared<PendingReply>(strand);
  pending.push_back(waiter);
  outbox.push_back(std::move(request));
  if (!writing) {
    writing = true;
    asio::co_spawn(strand, WriteLoop(shared_from_this()), asio::detached);
  }
  waiter->wake.expires_after(server_wait + options.reply_timeout);
  boost::system::error_code ec;
  if (!waiter->reply && open) co_await waiter->wake.async_wait(asio::redirect_error(use_awaitable, ec));
  if (waiter->reply) co_return std::move(*waiter->reply);
  if (open) {
    // Replies come in order, so a missing one leaves the stream unusable.
    Close("no reply within " +
          std::to_string((server_wait + std::chrono::duration_cast<std::chrono::seconds>(
                                            options.reply_timeout)).count()) + " s");
  }
  throw ConnectionError("connection to " + server.to_string() + " lost: " + close_reason);
}

awaitable<void> AsyncConnection::State::WriteLoop([[maybe_unused]] std::shared_ptr<State> keep_alive) {
  try {
    while (open && !outbox.empty()) {
      std::string batch;
      for (auto& request : outbox) batch += request;  // one write for all queued requests
      outbox.clear();
      if (tls) {
        co_await asio::async_write(*tls, asio::buffer(batch), use_awaitable);
      } else {
        co_await asio::async_write(*plain, asio::buffer(batch), use_awaitable);
      }
    }
  } catch (const boost::system::system_error& e) {
    Close("write failed: " + e.code().message());
  }
  writing = false;
}

awaitable<void> AsyncConnection::State::ReadLoop([[maybe_unused]] std::shared_ptr<State> keep_alive) {
  try {
    for (;;) {
      auto buffer = asio::dynamic_buffer(read_buffer, kMaxLine);
      std::size_t n = 0;
      if (tls) {
        n = co_await asio::async_read_until(*tls, buffer, '\n', use_awaitable);
      } else {
        n = co_await asio::async_read_until(*plain, buffer, '\n', use_awaitable);
      }
      std::string_view line(read_buffer.data(), n - 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (auto signal = wire::ParsePush(line)) {
        if (signal_handler) signal_handler(std::move(*signal));
      } else if (!pending.empty()) {
        auto waiter = std::move(pending.front());
        pending.pop_front();
        waiter->reply = std::string(line);
        waiter->wake.cancel();
      }
      // else: an unsolicited line (the server's `error` before a read-timeout close).
      read_buffer.erase(0, n);
    }
  } catch (const boost::system::system_error& e) {
    // No co_return inside a handler: GCC 12 then destroys the frame's locals twice.
    if (!open) {
      // We closed it ourselves: nothing to report.
    } else if (e.code() == asio::error::eof || e.code() == asio::ssl::error::stream_truncated) {
      Close("closed by the server");
    } else {
      Close("read failed: " + e.code().message());
    }
  }
}

void AsyncConnection::State::Close(const std::string& reason) {
  if (closed) return;
  closed = true;
  open = false;
  close_reason = reason;
  boost::system::error_code ignored;
  if (plain || tls) lowest().close(ignored);
  for (auto& waiter : pending) waiter->wake.cancel();
  pending.clear();
  outbox.clear();
  if (auto handler = std::move(close_handler)) handler(reason);
  signal_handler = nullptr;
}

// --- the handle -------------------------------------------------------------------

AsyncConnection::AsyncConnection(std::shared_ptr<State> state) : state_(std::move(state)) {}
AsyncConnection::AsyncConnection(AsyncConnection&&) noexcept = default;
AsyncConnection& AsyncConnection::operator=(AsyncConnection&& other) noexcept {
  if (this != &other) {
    close();
    state_ = std::move(other.state_);
  }
  return *this;
}
AsyncConnection::~AsyncConnection() { close(); }

// The public entry points are plain functions that move their arguments into the
// shared state before any coroutine frame exists.
awaitable<AsyncConnection> AsyncConnection::connect(asio::any_io_executor executor,
                                                    ServerAddress server) {
  return connect(std::move(executor), std::move(server), ConnectOptions{});
}

awaitable<AsyncConnection> AsyncConnection::connect(asio::any_io_executor executor,
                                                    ServerAddress server, ConnectOptions options) {
  auto state = std::make_shared<State>(executor, std::move(server), std::move(options));
  auto strand = state->strand;
  return asio::co_spawn(
      strand,
      [state = std::move(state)]() -> awaitable<AsyncConnection> {
        co_await state->Open();
        co_return AsyncConnection(state);
      },
      use_awaitable);
}

awaitable<std::string> AsyncConnection::call(std::string request, std::chrono::seconds server_wait) {
  if (!state_) throw ConnectionError("connection was moved from");
  return asio::co_spawn(state_->strand, state_->Call(std::move(request), server_wait), use_awaitable);
}

void AsyncConnection::on_signal(std::function<void(Signal)> handler) {
  if (!state_) return;
  asio::dispatch(state_->strand, [state = state_, handler = std::move(handler)]() mutable {
    state->signal_handler = std::move(handler);
  });
}

void AsyncConnection::on_close(std::function<void(const std::string&)> handler) {
  if (!state_) return;
  asio::dispatch(state_->strand, [state = state_, handler = std::move(handler)]() mutable {
    if (state->open) {
      state->close_handler = std::move(handler);
    } else {
      handler(state->close_reason);
    }
  });
}

bool AsyncConnection::is_open() const {
  // Read without the strand: a stale answer is harmless, the next call reports the truth.
  return state_ && state_->open;
}

void AsyncConnection::close() {
  if (!state_) return;
  asio::dispatch(state_->strand, [state = state_] { state->Close("closed by the client"); });
}

const ServerAddress& AsyncConnection::server() const {
  static const ServerAddress kNone;
  return state_ ? state_->server : kNone;
}

}  // namespace dflockd
