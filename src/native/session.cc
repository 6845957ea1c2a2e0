// A native protocol connection: framing, auth, one request at a time, batched
// writes, bounded signal pushes. Templated on the transport (plain TCP or TLS).
//
// Lifetime: every pending async operation holds a shared_ptr to the session (a plain
// socket's transport holds one while the socket is open, see PlainTransport). The
// engine holds a raw SessionSink pointer and completions that capture `this`;
// Close() calls CloseSession first, after which the engine holds neither.
#include "native/session.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <utility>

#include "native/command_mapper.h"
#include "native/ready_set.h"
#include "native/request_parser.h"
#include "native/response_writer.h"
#include "auth/token_compare.h"

namespace dflockd::native {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

/// Pause between `error_auth` and the close (§5): slows down token guessing.
constexpr auto kAuthFailureDelay = std::chrono::milliseconds(100);
/// Write buffers larger than this are released after use instead of kept.
constexpr std::size_t kKeepBufferCapacity = 64 * 1024;
/// TryWrite's answer for a socket that can no longer be written.
constexpr std::size_t kBroken = static_cast<std::size_t>(-1);
/// How often a session whose reading is paused checks that its peer is still there.
constexpr auto kPausedPeerCheck = std::chrono::milliseconds(100);

/// True if the peer closed or reset the connection, even with unread bytes queued
/// (POLLRDHUP reports the FIN; readability alone would not tell it from data).
bool PeerHungUp(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/// What a transport reports back to its session.
class TransportSink {
 public:
  /// `arrived`: when the data was taken from the socket.
  virtual void OnTransportRead(error_code ec, std::string_view data, SteadyTime arrived) = 0;
  virtual void OnTransportWritten(error_code ec) = 0;

 protected:
  ~TransportSink() = default;
};

error_code LastError() { return error_code(errno, boost::system::system_category()); }

bool WouldBlock(int e) { return e == EAGAIN || e == EWOULDBLOCK; }

/// A non-blocking call retried if a signal interrupted it (no edge would follow).
template <typename Call>
ssize_t Uninterrupted(Call call) {
  ssize_t n;
  do {
    n = call();
  } while (n < 0 && errno == EINTR);
  return n;
}

// Plain TCP, outside Asio's reactor: the socket sits in the io_context's ReadySet
// (see ready_set.h for why), registered once, edge-triggered. The transport keeps
// what the edges said: a read shorter than the buffer drained the socket, so the next
// read waits for the next edge instead of trying (and failing) first; only a full
// buffer, or data that came while no read was pending, is read without one.
class PlainTransport final : public ReadyWatcher {
 public:
  explicit PlainTransport(tcp::socket socket)
      : io_(&static_cast<asio::io_context&>(
            asio::query(socket.get_executor(), asio::execution::context))) {
    error_code ec;
    socket.set_option(tcp::no_delay(true), ec);
    const int fd = socket.release(ec);  // out of Asio's reactor
    if (!ec && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0) fd_ = fd;
    else if (!ec) ::close(fd);
    // fd_ < 0: the first read reports the failure and the session closes.
  }
  PlainTransport(PlainTransport&& other) noexcept
      : io_(other.io_), fd_(std::exchange(other.fd_, -1)) {}
  PlainTransport& operator=(PlainTransport&&) = delete;
  ~PlainTransport() { Close(); }

  template <typename F>
  void Handshake(F&& done) {
    done(error_code{});
  }
  /// Calls owner->OnTransportRead(ec, data) once the socket has data, EOF or an error.
  template <typename Owner>
  void Read(Owner* owner) {
    read_pending_ = true;
    if (Bind(owner) && readable_) Later(&PlainTransport::ReceiveNow);
  }
  /// Writes all of `data` (which must stay put), then calls owner->OnTransportWritten.
  template <typename Owner>
  void Write(const std::string& data, Owner* owner) {
    write_data_ = data.data();
    write_left_ = data.size();
    write_pending_ = true;
    if (Bind(owner) && writable_) Later(&PlainTransport::ContinueWrite);
  }
  /// Writes what the socket takes right now; kBroken on a dead socket.
  std::size_t TryWrite(std::string_view data) {
    if (fd_ < 0) return kBroken;
    const ssize_t n =
        Uninterrupted([&] { return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); });
    if (n >= 0 && static_cast<std::size_t>(n) == data.size()) return data.size();
    if (n < 0 && !WouldBlock(errno)) return kBroken;
    writable_ = false;  // the socket is full: the next EPOLLOUT edge says when it is not
    return n < 0 ? 0 : static_cast<std::size_t>(n);
  }
  /// Pending reads and writes are dropped without a call; the owner is released
  /// through a posted handler, so it outlives the batch of events being handled.
  void Close() {
    read_pending_ = write_pending_ = false;
    if (fd_ >= 0) {
      if (registered_) ready_->Remove(fd_, this);
      registered_ = false;
      ::close(fd_);
      fd_ = -1;
    }
    if (keep_) asio::post(*io_, [keep = std::move(keep_)] {});
  }
  int native_handle() { return fd_; }

  // ReadyWatcher
  void OnReady(std::uint32_t events) override {
    if (fd_ < 0) return;  // closed earlier in this batch
    constexpr std::uint32_t kFailed = EPOLLERR | EPOLLHUP;
    if ((events & (EPOLLIN | kFailed)) != 0) readable_ = true;
    if ((events & (EPOLLOUT | kFailed)) != 0) writable_ = true;
    if (write_pending_ && writable_) ContinueWrite();
    if (fd_ >= 0 && read_pending_ && readable_) Receive(ready_->batch_time());
  }
  void OnShutdown() override {
    registered_ = false;
    auto keep = std::move(keep_);  // may destroy the owner, and this with it
  }

 private:
  /// Keeps the owner alive while the socket is open and registers the socket. False:
  /// it cannot be watched, and what is pending fails from a posted handler.
  template <typename Owner>
  bool Bind(Owner* owner) {
    sink_ = owner;
    if (!keep_) keep_ = owner->shared_from_this();
    if (registered_) return true;
    error_code ec = asio::error::bad_descriptor;
    if (fd_ >= 0) {
      if (ready_ == nullptr) ready_ = &asio::use_service<ReadySet>(*io_);
      // The registration reports the socket's current state as the first edge.
      registered_ = ready_->Add(fd_, this, EPOLLIN | EPOLLOUT | EPOLLET);
      if (registered_) return true;
      ec = LastError();
    }
    asio::post(*io_, [this, keep = keep_, ec] { Fail(ec); });
    return false;
  }

  /// Runs `step` from the io_context rather than inside the caller (the session,
  /// which would otherwise re-enter itself).
  void Later(void (PlainTransport::*step)()) {
    asio::post(*io_, [this, keep = keep_, step] {
      if (fd_ >= 0) (this->*step)();
    });
  }

  void ReceiveNow() { Receive(std::chrono::steady_clock::now()); }
  void Receive(SteadyTime now) {
    if (!read_pending_) return;
    static thread_local char buffer[64 * 1024];
    const ssize_t n = Uninterrupted([&] { return ::recv(fd_, buffer, sizeof buffer, 0); });
    if (n < 0 && WouldBlock(errno)) {  // spurious: wait for the next edge
      readable_ = false;
      return;
    }
    // A short read drained the socket; a full one may have left bytes behind.
    readable_ = n == static_cast<ssize_t>(sizeof buffer);
    read_pending_ = false;
    const error_code ec = n > 0 ? error_code() : n == 0 ? asio::error::eof : LastError();
    sink_->OnTransportRead(ec, std::string_view(buffer, n > 0 ? static_cast<std::size_t>(n) : 0),
                           now);
  }

  void ContinueWrite() {
    if (!write_pending_) return;
    const ssize_t n =
        Uninterrupted([&] { return ::send(fd_, write_data_, write_left_, MSG_NOSIGNAL); });
    if (n < 0 && WouldBlock(errno)) {
      writable_ = false;
      return;
    }
    if (n < 0) return Fail(LastError());
    write_data_ += n;
    write_left_ -= static_cast<std::size_t>(n);
    if (write_left_ > 0) {
      writable_ = false;
      return;
    }
    write_pending_ = false;
    sink_->OnTransportWritten(error_code());
  }

  /// The socket cannot be used: report it to whatever is pending.
  void Fail(error_code ec) {
    if (write_pending_) {
      write_pending_ = false;
      sink_->OnTransportWritten(ec);
    }
    if (read_pending_) {
      read_pending_ = false;
      sink_->OnTransportRead(ec, {}, std::chrono::steady_clock::now());
    }
  }

  asio::io_context* io_;
  ReadySet* ready_ = nullptr;
  int fd_ = -1;
  bool registered_ = false;
  bool readable_ = false;  ///< an edge said so and no short read has drained it since
  bool writable_ = false;
  bool read_pending_ = false;
  bool write_pending_ = false;
  const char* write_data_ = nullptr;
  std::size_t write_left_ = 0;
  TransportSink* sink_ = nullptr;
  std::shared_ptr<void> keep_;  ///< the owning session, while the socket is open
};

// TLS over TCP (OpenSSL through Asio). OpenSSL buffers decrypted bytes itself, so
// readability of the socket says nothing: each session reads into its own buffer.
class TlsTransport {
 public:
  TlsTransport(tcp::socket socket, asio::ssl::context& context) : stream_(std::move(socket), context) {
    error_code ec;
    stream_.next_layer().set_option(tcp::no_delay(true), ec);
  }
  template <typename F>
  void Handshake(F&& done) {
    stream_.async_handshake(asio::ssl::stream_base::server, std::forward<F>(done));
  }
  template <typename Owner>
  void Read(Owner* owner) {
    if (!buffer_) buffer_ = std::make_unique<char[]>(kBufferSize);
    stream_.async_read_some(asio::buffer(buffer_.get(), kBufferSize),
                            [this, self = owner->shared_from_this()](error_code ec, std::size_t n) {
                              static_cast<TransportSink&>(*self).OnTransportRead(
                                  ec, std::string_view(buffer_.get(), n),
                                  std::chrono::steady_clock::now());
                            });
  }
  template <typename Owner>
  void Write(const std::string& data, Owner* owner) {
    asio::async_write(stream_, asio::buffer(data),
                      [self = owner->shared_from_this()](error_code ec, std::size_t) {
                        static_cast<TransportSink&>(*self).OnTransportWritten(ec);
                      });
  }
  /// TLS records go through OpenSSL: always write asynchronously.
  std::size_t TryWrite(std::string_view) { return 0; }
  void Close() {
    error_code ec;
    stream_.next_layer().close(ec);
  }
  int native_handle() { return stream_.next_layer().native_handle(); }

 private:
  static constexpr std::size_t kBufferSize = 16 * 1024;
  asio::ssl::stream<tcp::socket> stream_;
  std::unique_ptr<char[]> buffer_;
};

template <typename Transport>
class Session final : public SessionBase,
                      public core::SessionSink,
                      public TransportSink,
                      public std::enable_shared_from_this<Session<Transport>> {
 public:
  Session(Transport transport, asio::any_io_executor io, SessionContext& context, std::string ip)
      : transport_(std::move(transport)), io_(std::move(io)), ctx_(context) {
    peer_ip = std::move(ip);
  }

  ~Session() override {
    if (ctx_.options.metrics != nullptr) {
      ctx_.options.metrics->ConnectionClosed(metrics::Transport::kNative);
    }
    if (!engine_closed_) ctx_.executor.CloseSession(id_);
    if (registry != nullptr) registry->Remove(this);
  }

  void Start() {
    if (ctx_.options.metrics != nullptr) {
      ctx_.options.metrics->ConnectionOpened(metrics::Transport::kNative);
    }
    id_ = ctx_.executor.OpenSession(this);
    ctx_.executor.DescribeSession(id_, core::SessionInfo{"native", RemoteAddress()});
    ctx_.registry.Add(this);
    transport_.Handshake([self = this->shared_from_this()](error_code ec) {
      if (ec) return self->Close();
      self->DoRead();
    });
  }

  // core::SessionSink
  bool Push(std::string_view channel, std::string_view payload) override {
    if (closed_) return false;
    if (pending_pushes_ + inflight_pushes_ >= ctx_.options.max_push_queue) return false;
    AppendPush(out_, channel, payload);
    ++pending_pushes_;
    ScheduleFlush();
    return true;
  }

  void Evicted() override {
    // The engine already dropped our state; we are inside its call, so only touch
    // the transport.
    engine_closed_ = true;
    Close();
  }

  // SessionBase
  void OnReadTimeout() override {
    if (closed_ || closing_) return;
    out_.append("error\n");
    CloseAfterFlush();
  }

  void Abort() override { Close(); }

 private:
  /// "ip:port" of the client, for watchers.
  std::string RemoteAddress() {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(transport_.native_handle(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return peer_ip;
    }
    const int port = addr.ss_family == AF_INET6
                         ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                         : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    return addr.ss_family == AF_INET6 ? "[" + peer_ip + "]:" + std::to_string(port)
                                      : peer_ip + ":" + std::to_string(port);
  }

  /// Reading pauses while replies are unsent beyond the output cap (a write is in
  /// flight then, and the write timeout bounds the wait) or while pipelined input is
  /// over the input cap behind a waiting command (a timer then keeps the session
  /// alive and watches for the peer going away). It resumes from OnWritten/OnResult.
  void DoRead() {
    if (closed_ || reading_ || peer_eof_ || OutputFull()) return;
    if (input_.size() - input_pos_ > ctx_.options.max_pending_input) return WatchWhilePaused();
    reading_ = true;
    transport_.Read(this);
  }

  // TransportSink
  void OnTransportRead(error_code ec, std::string_view data, SteadyTime arrived) override {
    reading_ = false;
    OnRead(ec, data, arrived);
  }
  void OnTransportWritten(error_code ec) override { OnWritten(ec); }

  void OnRead(error_code ec, std::string_view data, SteadyTime arrived) {
    if (closed_) return;
    if (!data.empty() && !busy_ && std::memchr(data.data(), '\n', data.size()) != nullptr) {
      if (registry != nullptr) registry->Touch(this, arrived);
    }
    if (ec) {
      peer_eof_ = true;
      // A client that goes away while waiting must not be granted: cancel now.
      if (busy_) return Close();
    }
    if (input_pos_ < input_.size()) {
      input_.append(data);
      Process(arrived);
    } else {
      // Nothing buffered (the usual case): handle the requests straight from the read
      // buffer and keep only what is left over (a partial line, or lines behind a
      // command that waits).
      input_.clear();
      input_pos_ = 0;
      const std::size_t used = HandleRequests(data, arrived);
      input_.append(data.substr(used));
      FinishTurn();
    }
    DoRead();
  }

  bool OutputFull() const {
    return out_.size() + writing_.size() > ctx_.options.max_pending_output;
  }

  void WatchWhilePaused() {
    if (pause_timer_armed_) return;
    if (!pause_timer_) pause_timer_ = std::make_unique<asio::steady_timer>(io_);
    pause_timer_armed_ = true;
    pause_timer_->expires_after(kPausedPeerCheck);
    pause_timer_->async_wait([self = this->shared_from_this()](error_code) {
      self->pause_timer_armed_ = false;
      if (self->closed_) return;
      if (PeerHungUp(self->transport_.native_handle())) return self->Close();  // cancels the wait
      self->DoRead();  // reads again, or re-arms while still paused
    });
  }

  /// Handles the buffered requests (see HandleRequests).
  void Process(SteadyTime turn_start) {
    input_pos_ += HandleRequests(
        std::string_view(input_.data() + input_pos_, input_.size() - input_pos_), turn_start);
    CompactInput();
    FinishTurn();
  }

  /// Handles the requests at the start of `input` until one has to wait, input runs
  /// out, or the unsent output reaches its cap; returns the bytes used. `turn_start`:
  /// when this run of requests became ready to be handled (their latency counts from
  /// there).
  std::size_t HandleRequests(std::string_view input, SteadyTime turn_start) {
    turn_start_ = turn_start;
    std::size_t used = 0;
    while (!busy_ && !closing_ && !closed_) {
      if (OutputFull()) {
        Flush();  // usually the socket takes it all at once and we carry on
        if (OutputFull() || closed_) break;  // OnWritten resumes us
      }
      const std::string_view pending = input.substr(used);
      if (discarding_) {
        // Oversize line (§1): drain it up to its `\n`, answer `error`, close.
        const void* nl = std::memchr(pending.data(), '\n', pending.size());
        if (nl == nullptr) {
          used = input.size();
          break;
        }
        used += static_cast<const char*>(nl) - pending.data() + 1;
        out_.append("error\n");
        CloseAfterFlush();
        break;
      }
      ParseOutcome parsed = ParseRequest(pending);
      if (parsed.status == ParseStatus::kNeedMore) break;
      if (parsed.status == ParseStatus::kOversize) {
        discarding_ = true;
        continue;
      }
      Handle(parsed.request);
      used += parsed.consumed;
    }
    return used;
  }

  /// The end of a turn: latency of what was answered at once, then the replies.
  void FinishTurn() {
    ObserveAnsweredAtOnce();
    if (peer_eof_ && !busy_ && !closing_) CloseAfterFlush();  // nothing more will come
    Flush();
  }

  /// The latency of the requests this turn answered without waiting: one clock read
  /// for all of them (rather than two per request), taken before their replies go out.
  void ObserveAnsweredAtOnce() {
    if (!answered_at_once_) return;
    answered_at_once_ = false;
    const auto latency = std::chrono::steady_clock::now() - turn_start_;
    for (std::size_t i = 0; i < answered_.size(); ++i) {
      if (answered_[i] == 0) continue;
      ctx_.options.metrics->ObserveLatency(metrics::Transport::kNative, i, latency, answered_[i]);
      answered_[i] = 0;
    }
  }

  void Handle(const RawRequest& raw) {
    MappedRequest m = MapRequest(raw, peer_);
    const std::string& token = ctx_.options.auth_token;
    if (!token.empty() && !authed_) {
      if (m.kind == RequestKind::kAuth && auth::TokenMatches(m.auth_token, token)) {
        authed_ = true;
        out_.append("ok\n");
        return;
      }
      out_.append("error_auth\n");
      close_delay_ = true;
      CloseAfterFlush();
      return;
    }
    if (m.kind == RequestKind::kPeer && ctx_.cluster != nullptr && !peer_ &&
        ctx_.cluster->mark_peer(id_, m.peer_detached, m.peer_shard)) {
      peer_ = true;
      out_.append("ok\n");
      return;
    }
    if (m.kind == RequestKind::kTopology && ctx_.cluster != nullptr) {
      out_.append("ok ");
      out_.append(ctx_.cluster->topology_json);
      out_.push_back('\n');
      return;
    }
    if (m.kind != RequestKind::kCommand) {  // malformed, auth when not expected, unsharded
      out_.append("error\n");
      return;
    }
    busy_ = true;
    in_submit_ = true;
    enqueue_reply_ = m.enqueue;
    command_index_ = m.command.index();
    request_start_ = turn_start_;
    ctx_.executor.Submit(id_, std::move(m.command),
                         [this](core::Result<core::Reply> r) { OnResult(std::move(r)); });
    in_submit_ = false;
    // Waiting: no read timeout meanwhile. (`registry` is null once closed: a closed
    // session must never be linked into the registry's lists again.)
    if (busy_ && registry != nullptr) registry->Pause(this);
  }

  void OnResult(core::Result<core::Reply> result) {
    busy_ = false;
    const bool later = !in_submit_;
    SteadyTime now{};
    if (later) now = std::chrono::steady_clock::now();
    if (ctx_.options.metrics != nullptr) {
      if (later) {
        ctx_.options.metrics->ObserveLatency(metrics::Transport::kNative, command_index_,
                                             now - request_start_);
      } else if (command_index_ < answered_.size()) {
        ++answered_[command_index_];  // observed at the end of the turn
        answered_at_once_ = true;
      }
    }
    if (closed_ || (!result.ok() && result.error() == core::ErrorCode::kCancelled)) return;
    AppendResponse(out_, result, enqueue_reply_, peer_ ? Vocabulary::kPeer : Vocabulary::kClient);
    if (!result.ok() && result.error() == core::ErrorCode::kDraining) CloseAfterFlush();
    if (in_submit_ || closed_) return;  // Process() continues with the next request
    // Granted (or timed out) later, inside someone else's call: carry on from our
    // own turn rather than re-entering the engine.
    if (registry != nullptr) registry->Touch(this, now);
    asio::post(io_, [self = this->shared_from_this(), now] {
      self->Process(now);
      self->DoRead();
    });
  }

  void CompactInput() {
    if (input_pos_ == input_.size()) {
      input_.clear();
      input_pos_ = 0;
      if (input_.capacity() > kKeepBufferCapacity) input_.shrink_to_fit();
    } else if (input_pos_ > 4096 && input_pos_ * 2 > input_.size()) {
      input_.erase(0, input_pos_);
      input_pos_ = 0;
    }
  }

  void ScheduleFlush() {
    if (write_in_flight_ || flush_posted_) return;
    flush_posted_ = true;
    asio::post(io_, [self = this->shared_from_this()] {
      self->flush_posted_ = false;
      self->Flush();
    });
  }

  void Flush() {
    if (write_in_flight_ || closed_) return;
    if (out_.empty()) {
      if (closing_) FinishClose();
      return;
    }
    // Usually the socket takes the whole batch at once: write it now and skip the
    // asynchronous write and its completion handler.
    std::size_t written = transport_.TryWrite(out_);
    if (written == kBroken) return Close();
    if (written == out_.size()) {
      out_.clear();
      if (out_.capacity() > kKeepBufferCapacity) out_.shrink_to_fit();
      pending_pushes_ = 0;
      if (closing_) FinishClose();
      return;
    }
    out_.erase(0, written);
    std::swap(out_, writing_);
    inflight_pushes_ = pending_pushes_;
    pending_pushes_ = 0;
    write_in_flight_ = true;
    if (registry != nullptr) registry->WriteBegin(this);
    transport_.Write(writing_, this);
  }

  void OnWritten(error_code ec) {
    write_in_flight_ = false;
    inflight_pushes_ = 0;
    writing_.clear();
    if (writing_.capacity() > kKeepBufferCapacity) writing_.shrink_to_fit();
    if (closed_) return;
    if (registry != nullptr) registry->WriteEnd(this);
    if (ec) return Close();
    Flush();
    if (!OutputFull()) {  // below the cap again: continue where backpressure stopped us
      Process(std::chrono::steady_clock::now());
      DoRead();
    }
  }

  /// Stop taking requests; close once everything queued is written.
  void CloseAfterFlush() {
    closing_ = true;
    Flush();
  }

  void FinishClose() {
    if (!close_delay_) return Close();
    if (close_timer_) return;
    close_timer_ = std::make_unique<asio::steady_timer>(io_, kAuthFailureDelay);
    close_timer_->async_wait([self = this->shared_from_this()](error_code) { self->Close(); });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (!engine_closed_) {
      engine_closed_ = true;
      ctx_.executor.CloseSession(id_);  // cancels our wait, releases holds
    }
    if (registry != nullptr) registry->Remove(this);
    transport_.Close();
  }

  Transport transport_;
  asio::any_io_executor io_;
  SessionContext& ctx_;
  core::SessionId id_ = 0;
  std::string input_;
  std::size_t input_pos_ = 0;
  std::string out_;      ///< responses and pushes not yet handed to the socket
  std::string writing_;  ///< the batch being written
  std::size_t pending_pushes_ = 0;
  std::size_t inflight_pushes_ = 0;
  std::unique_ptr<asio::steady_timer> close_timer_;
  std::unique_ptr<asio::steady_timer> pause_timer_;  ///< only while reading is paused
  SteadyTime turn_start_{};     ///< see Process
  SteadyTime request_start_{};  ///< the turn start of the command with the engine
  std::size_t command_index_ = 0;
  /// Requests answered at once in this turn, by command (see ObserveAnsweredAtOnce).
  std::array<std::uint32_t, std::variant_size_v<core::Command>> answered_{};
  bool answered_at_once_ = false;
  bool busy_ = false;  ///< a command is with the engine
  bool in_submit_ = false;
  bool enqueue_reply_ = false;
  bool authed_ = false;
  bool peer_ = false;  ///< another shard's connection (sharded mode)
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool flush_posted_ = false;
  bool pause_timer_armed_ = false;
  bool discarding_ = false;
  bool peer_eof_ = false;
  bool closing_ = false;
  bool close_delay_ = false;
  bool closed_ = false;
  bool engine_closed_ = false;
};

}  // namespace

void StartPlainSession(tcp::socket socket, std::string ip, SessionContext& context) {
  auto io = socket.get_executor();
  std::make_shared<Session<PlainTransport>>(PlainTransport(std::move(socket)), io, context,
                                            std::move(ip))
      ->Start();
}

void StartTlsSession(tcp::socket socket, std::string ip, asio::ssl::context& tls,
                     SessionContext& context) {
  auto io = socket.get_executor();
  std::make_shared<Session<TlsTransport>>(TlsTransport(std::move(socket), tls), io, context,
                                          std::move(ip))
      ->Start();
}

}  // namespace dflockd::native
