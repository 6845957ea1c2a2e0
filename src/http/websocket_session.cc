// WebSocket sessions at /v1/ws: JSON requests with connection ownership (as a native
// connection), signal pushes, ping/pong keep-alive.
//
// Requests are answered in order, one at a time. Reading continues while a request
// waits, so a closed socket is noticed at once; a client that queues more than
// kMaxQueuedRequests requests (or kMaxQueuedBytes) behind a waiting one is closed.
// Output is bounded: while more than kMaxPendingOutput bytes of replies are unsent,
// no further request is read or run, and a write that makes no progress for the
// write timeout closes the connection. So a client that sends but never reads holds
// at most kMaxQueuedBytes + kMaxPendingOutput + one reply, for at most the write
// timeout.
#include "http/websocket_session.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <memory>

#include "auth/token_compare.h"
#include "http/json_codec.h"
#include "http/remote_address.h"
#include "http/status_map.h"
#include "json/stats_json.h"
#include "json/watch_json.h"
#include "core/subject.h"

namespace dflockd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

constexpr std::size_t kMaxQueuedRequests = 256;
constexpr std::size_t kMaxQueuedBytes = 1 << 20;

template <typename Stream>
class WebSocketSession final : public core::SessionSink,
                               public core::WatchSink,
                               public LiveConnection,
                               public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream stream, ConnectionSlot slot, WebSocketAuth auth, HttpContext& ctx)
      : ws_(std::move(stream)),
        ctx_(ctx),
        slot_(std::move(slot)),
        subprotocol_(std::move(auth.subprotocol)),
        authed_(auth.authenticated),
        write_timer_(ws_.get_executor()) {
    ++ctx_.websockets;
    ctx_.live.insert(this);
    beast::error_code ec;
    auto peer = beast::get_lowest_layer(ws_).socket().remote_endpoint(ec);
    if (!ec) remote_ = RemoteAddress(peer);
    if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionOpened(metrics::Transport::kWebSocket);
  }

  ~WebSocketSession() override {
    ctx_.live.erase(this);
    if (watch_ != 0) ctx_.executor.Unwatch(watch_);
    if (!engine_closed_) ctx_.executor.CloseSession(session_);
    --ctx_.websockets;
    if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionClosed(metrics::Transport::kWebSocket);
  }

  void Start(Request request) {
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket timeouts take over
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = ctx_.read_timeout;
    timeout.keep_alive_pings = true;  // ping at half the idle timeout; no pong closes
    ws_.set_option(timeout);
    if (!subprotocol_.empty()) {
      ws_.set_option(websocket::stream_base::decorator(
          [protocol = subprotocol_](websocket::response_type& res) {
            res.set(beast::http::field::sec_websocket_protocol, protocol);
          }));
    }
    ws_.read_message_max(kMaxBody);
    // One frame per message: fragmenting a 128 KiB batch of watch events into 4 KiB
    // frames costs a trip through the event loop per frame.
    ws_.auto_fragment(false);
    session_ = ctx_.executor.OpenSession(this);
    ctx_.executor.DescribeSession(session_, core::SessionInfo{"websocket", remote_});
    ws_.async_accept(request, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      self->DoRead();
    });
  }

  // core::SessionSink (engine thread = this thread).
  bool Push(std::string_view channel, std::string_view payload) override {
    if (closed_ || closing_ || pushes_queued_ >= ctx_.max_push_queue) return false;
    Send(WsSignal(channel, payload), true);
    return true;
  }

  void Evicted() override {
    engine_closed_ = true;
    Close();
  }

  // core::WatchSink: events are pushes too. They are appended straight into an open
  // batch message, {"type":"events","events":[…]}, of at most kMaxBatchBytes: a busy
  // server emits far more events than a socket can take one frame at a time.
  bool Deliver(const core::WatchEvent& event) override {
    if (closed_ || closing_ || events_queued_ >= kMaxQueuedEvents) return false;
    // The front entry may be on the wire: only a batch behind it is still open.
    const bool open_batch = !outbox_.empty() && outbox_.back().kind == Outgoing::kEvent &&
                            outbox_.back().text.size() < kMaxBatchBytes &&
                            (!writing_ || outbox_.size() > 1);
    const std::size_t before = open_batch ? outbox_.back().text.size() : 0;
    if (!open_batch) outbox_.push_back({R"({"type":"events","events":[)", Outgoing::kEvent, 0});
    Outgoing& batch = outbox_.back();
    if (batch.events != 0) batch.text.push_back(',');
    json::AppendWatchEventJson(batch.text, event);
    ++batch.events;
    ++events_queued_;
    outbox_bytes_ += batch.text.size() - before;
    // Sent after the event loop's current round, so one message carries every event
    // of the requests handled in it (writing at once would send one frame per event).
    if (!writing_ && !flush_posted_) {
      flush_posted_ = true;
      asio::post(ws_.get_executor(), [self = this->shared_from_this()] {
        self->flush_posted_ = false;
        if (!self->writing_) self->DoWrite();
      });
    }
    return true;
  }

  void WatchEvicted() override {
    // More than kMaxQueuedEvents behind: the watch ends and so does the socket (the
    // engine's call: only our own state is touched here).
    watch_ = 0;
    Send(WsError(boost::json::value(), HttpError{429, "slow_consumer",
                                                "the watch fell too far behind"}), false);
    CloseAfterFlush(websocket::close_code::policy_error);
  }

  void Abort() override { Close(); }

 private:
  bool OutputFull() const { return outbox_bytes_ > kMaxPendingOutput; }

  void DoRead() {
    if (reading_ || closed_ || closing_ || OutputFull()) return;  // resumed after a write
    reading_ = true;
    ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->reading_ = false;
      self->OnRead(ec);
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Close();  // closed, timed out or broken: cancel waits, release holds
    if (closed_) return;
    if (requests_.size() >= kMaxQueuedRequests || queued_bytes_ + in_.size() > kMaxQueuedBytes) {
      return Close();  // flooding behind a waiting request
    }
    requests_.push_back(beast::buffers_to_string(in_.data()));
    queued_bytes_ += requests_.back().size();
    in_.consume(in_.size());
    ProcessNext();
    DoRead();
  }

  void ProcessNext() {
    while (!busy_ && !closed_ && !closing_ && !OutputFull() && !requests_.empty()) {
      queued_bytes_ -= requests_.front().size();
      WsRequest req = ParseWsRequest(requests_.front());
      requests_.pop_front();
      if (!authed_ || req.auth_token) {
        Authenticate(req);
        continue;
      }
      if (req.watch_pattern || req.unwatch) {
        HandleWatch(req);
        continue;
      }
      if (!req.command) {
        Send(WsError(req.id, ErrorFor(req.command.error())), false);
        continue;
      }
      busy_ = true;
      in_submit_ = true;
      const std::size_t index = req.command.value().index();
      stopwatch_ = metrics::Stopwatch();
      ctx_.executor.Submit(session_, std::move(req.command.value()),
                           [self = this->shared_from_this(), id = std::move(req.id),
                            endpoint = req.route.endpoint, index](core::Result<core::Reply> r) {
                             self->OnResult(id, endpoint, index, std::move(r));
                           });
      in_submit_ = false;
    }
  }

  /// One watch per socket: `watch` replaces the previous one. The answer comes first,
  /// then the snapshot events, `snapshot_done`, and the changes.
  void HandleWatch(const WsRequest& req) {
    if (watch_ != 0) {
      ctx_.executor.Unwatch(watch_);
      watch_ = 0;
    }
    if (req.unwatch) {
      Send(WsResponse(req.id, "{}"), false);
      return;
    }
    if (!core::IsValidPattern(*req.watch_pattern)) {
      Send(WsError(req.id, ErrorFor(core::ErrorCode::kInvalid)), false);
      return;
    }
    std::string result = "{\"watch\":";
    json::AppendJsonString(result, *req.watch_pattern);
    result += "}";
    Send(WsResponse(req.id, result), false);
    auto id = ctx_.executor.Watch(*req.watch_pattern, this);
    if (id.ok() && !closing_) watch_ = id.value();
  }

  /// With a server token, a socket whose upgrade carried none must authenticate with
  /// its first message, as a native connection does: `{"op":"auth","token":"…"}`.
  void Authenticate(const WsRequest& req) {
    if (authed_) {  // a second auth, or auth on a server without a token
      Send(WsError(req.id, HttpError{400, "bad_request", "already authenticated"}), false);
      return;
    }
    if (req.auth_token && auth::TokenMatches(*req.auth_token, ctx_.auth_token)) {
      authed_ = true;
      Send(WsResponse(req.id, "{}"), false);
      return;
    }
    Send(WsError(req.id, HttpError{401, "unauthorized", "authenticate first: {\"op\":\"auth\",\"token\":...}"}),
         false);
    CloseAfterFlush(websocket::close_code::policy_error);
  }

  void OnResult(const boost::json::value& id, Endpoint endpoint, std::size_t index,
                core::Result<core::Reply> r) {
    busy_ = false;
    if (ctx_.metrics != nullptr) {
      ctx_.metrics->ObserveLatency(metrics::Transport::kWebSocket, index, stopwatch_.Elapsed());
    }
    if (closed_ || (!r.ok() && r.error() == core::ErrorCode::kCancelled)) return;
    Send(r.ok() ? WsResponse(id, ReplyJson(endpoint, r.value())) : WsError(id, ErrorFor(r.error())),
         false);
    if (!r.ok() && r.error() == core::ErrorCode::kDraining) {
      // As on the native port: a draining server closes the connection after answering.
      return CloseAfterFlush(websocket::close_code::going_away);
    }
    if (!in_submit_) {
      // Answered from inside another client's call: continue from our own turn.
      asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->ProcessNext(); });
    }
  }

  void Send(std::string text, bool is_push) {
    outbox_bytes_ += text.size();
    outbox_.push_back({std::move(text), is_push ? Outgoing::kSignal : Outgoing::kResponse, 0});
    if (is_push) ++pushes_queued_;
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    if (closed_) return;
    if (outbox_.empty()) {
      if (closing_) FinishClose();
      return;
    }
    writing_ = true;
    ArmWriteTimer();
    ws_.text(true);
    if (outbox_.front().kind == Outgoing::kEvent) {  // close the batch: it is sent now
      Outgoing& batch = outbox_.front();
      batch.text += "]}";
      outbox_bytes_ += 2;
      events_queued_ -= batch.events;
      batch.kind = Outgoing::kResponse;
    }
    ws_.async_write(asio::buffer(outbox_.front().text),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->OnWritten(ec);
                    });
  }

  void OnWritten(beast::error_code ec) {
    writing_ = false;
    ++write_generation_;
    write_timer_.cancel();
    if (outbox_.front().kind == Outgoing::kSignal) --pushes_queued_;
    outbox_bytes_ -= outbox_.front().text.size();
    outbox_.pop_front();
    if (ec) return Close();
    DoWrite();
    // Below the output cap again: take the next requests.
    ProcessNext();
    DoRead();
  }

  /// A write that does not complete within the write timeout closes the connection
  /// (a peer that stopped reading).
  void ArmWriteTimer() {
    write_timer_.expires_after(ctx_.write_timeout);
    write_timer_.async_wait([self = this->shared_from_this(),
                             generation = write_generation_](beast::error_code ec) {
      if (!ec && self->writing_ && generation == self->write_generation_) self->Close();
    });
  }

  /// Stop taking requests; send a close frame once everything queued is written.
  void CloseAfterFlush(websocket::close_code code) {
    if (closing_) return;
    closing_ = true;
    close_code_ = code;
    requests_.clear();
    queued_bytes_ = 0;
    if (!writing_) DoWrite();
  }

  void FinishClose() {
    writing_ = true;  // the close frame is a write too
    ArmWriteTimer();
    ws_.async_close(close_code_, [self = this->shared_from_this()](beast::error_code) {
      self->writing_ = false;
      self->Close();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (watch_ != 0) {
      ctx_.executor.Unwatch(watch_);
      watch_ = 0;
    }
    if (!engine_closed_) {
      engine_closed_ = true;
      ctx_.executor.CloseSession(session_);
    }
    write_timer_.cancel();
    beast::get_lowest_layer(ws_).close();
  }

  struct Outgoing {
    enum Kind { kResponse, kSignal, kEvent };
    std::string text;
    Kind kind;
    std::size_t events = 0;  ///< kEvent: events in the (still open) batch
  };
  /// Watch events queued at most; beyond it the watcher is a slow consumer.
  static constexpr std::size_t kMaxQueuedEvents = 8192;
  /// A batch of events stays well under the 1 MiB message limit common in clients.
  static constexpr std::size_t kMaxBatchBytes = 128 * 1024;

  websocket::stream<Stream> ws_;
  HttpContext& ctx_;
  ConnectionSlot slot_;
  std::string subprotocol_;
  bool authed_;
  asio::steady_timer write_timer_;
  std::uint64_t write_generation_ = 0;
  beast::flat_buffer in_;
  std::deque<std::string> requests_;
  std::size_t queued_bytes_ = 0;
  std::deque<Outgoing> outbox_;
  std::size_t outbox_bytes_ = 0;
  std::size_t pushes_queued_ = 0;
  std::size_t events_queued_ = 0;
  core::WatchId watch_ = 0;
  bool flush_posted_ = false;
  std::string remote_;
  metrics::Stopwatch stopwatch_;
  core::SessionId session_ = 0;
  websocket::close_code close_code_ = websocket::close_code::normal;
  bool busy_ = false;
  bool in_submit_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool engine_closed_ = false;
};

}  // namespace

void StartWebSocket(beast::tcp_stream stream, Request request, ConnectionSlot slot,
                    WebSocketAuth auth, HttpContext& context) {
  std::make_shared<WebSocketSession<beast::tcp_stream>>(std::move(stream), std::move(slot),
                                                        std::move(auth), context)
      ->Start(std::move(request));
}

void StartWebSocket(asio::ssl::stream<beast::tcp_stream> stream, Request request,
                    ConnectionSlot slot, WebSocketAuth auth, HttpContext& context) {
  std::make_shared<WebSocketSession<asio::ssl::stream<beast::tcp_stream>>>(
      std::move(stream), std::move(slot), std::move(auth), context)
      ->Start(std::move(request));
}

}  // namespace dflockd::http
