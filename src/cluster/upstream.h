// One native-protocol connection from this shard to another (plain TCP or TLS):
// requests are pipelined and answered in order; `sig` lines are pushes. It connects,
// authenticates and says `peer` on its own, and queues requests meanwhile.
//
// Threading: everything runs on the engine's io_context thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/command.h"

namespace dflockd::cluster {

struct UpstreamOptions {
  std::string host;
  std::string port;
  std::string auth_token;                       ///< empty: no `auth`
  std::size_t self = 0;                         ///< our shard index, sent in `peer`
  bool detached = false;                        ///< `peer … detached` (REST/unary holds)
  boost::asio::ssl::context* tls = nullptr;     ///< client context; null: plain TCP
  std::chrono::milliseconds connect_timeout{1000};  ///< connect + TLS + hello answered
};

class Upstream : public std::enable_shared_from_this<Upstream> {
 public:
  using Clock = std::chrono::steady_clock;
  /// The reply line without `\n`, or nothing when the connection was lost first.
  using ReplyFn = std::function<void(std::optional<std::string_view> line)>;
  using PushFn = std::function<void(std::string_view channel, std::string_view payload)>;
  /// The connection failed or was closed by the peer. `established`: the hello had
  /// been answered (false: the peer could not be reached, or refused us).
  using LostFn = std::function<void(const std::string& why, bool established)>;
  using UpFn = std::function<void()>;

  Upstream(boost::asio::io_context& io, UpstreamOptions options);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  void OnPush(PushFn f) { on_push_ = std::move(f); }
  void OnLost(LostFn f) { on_lost_ = std::move(f); }
  void OnUp(UpFn f) { on_up_ = std::move(f); }

  /// Starts connecting. Requests sent before the hello is answered wait for it.
  void Connect();
  /// Queues one request (its complete lines); `done` gets the matching reply.
  /// `deadline`: the reply is overdue after it (Overdue()).
  void Send(std::string_view request, ReplyFn done, Clock::time_point deadline);
  /// As Send, with the request lines of `command` written straight into the buffer.
  void Send(const core::Command& command, ReplyFn done, Clock::time_point deadline);
  /// Closes without calling any callback again (pending ReplyFns are dropped).
  void Close();
  /// Breaks the connection as a failure: pending ReplyFns get nothing, then LostFn.
  void Fail(const std::string& why);

  bool closed() const { return closed_; }
  bool established() const { return established_; }
  std::size_t outstanding() const { return waiting_.size(); }
  /// A reply is later than its deadline.
  bool Overdue(Clock::time_point now) const;
  Clock::time_point last_activity() const { return last_activity_; }

 private:
  struct Pending {
    ReplyFn done;
    Clock::time_point deadline;
  };
  class Transport;

  void OnConnected();
  void OnHello(std::optional<std::string_view> line);
  void StartRead();
  void OnRead(std::size_t n);
  void Queued(ReplyFn done, Clock::time_point deadline);
  void Flush();

  boost::asio::io_context& io_;
  UpstreamOptions options_;
  std::unique_ptr<Transport> transport_;
  std::string in_;
  std::string out_;      ///< not yet written (held back until the hello is written)
  std::string writing_;  ///< being written
  std::deque<Pending> waiting_;
  PushFn on_push_;
  LostFn on_lost_;
  UpFn on_up_;
  Clock::time_point last_activity_ = Clock::now();
  std::size_t hello_replies_ = 0;  ///< hello answers still expected
  bool connected_ = false;         ///< TCP (and TLS) up: writes may start
  bool established_ = false;       ///< the hello was answered `ok`
  bool write_in_flight_ = false;
  bool closed_ = false;
};

}  // namespace dflockd::cluster
