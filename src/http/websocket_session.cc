// WebSocket sessions at /v1/ws: JSON requests with connection ownership (as a native
// connection), signal pushes, ping/pong keep-alive.
//
// Requests are answered in order, one at a time; reading continues meanwhile (up to
// kMaxQueuedRequests) so a closed socket is noticed while a request waits.
#include "http/websocket_session.h"

#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <deque>
#include <memory>

#include "http/json_codec.h"
#include "http/status_map.h"

namespace dflockd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

constexpr std::size_t kMaxQueuedRequests = 256;

template <typename Stream>
class WebSocketSession final : public core::SessionSink,
                               public std::enable_shared_from_this<WebSocketSession<Stream>> {
 public:
  WebSocketSession(Stream stream, HttpContext& ctx) : ws_(std::move(stream)), ctx_(ctx) {
    ++ctx_.connections;
    if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionOpened(metrics::Transport::kWebSocket);
  }

  ~WebSocketSession() override {
    if (!engine_closed_) ctx_.executor.CloseSession(session_);
    --ctx_.connections;
    if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionClosed(metrics::Transport::kWebSocket);
  }

  void Start(Request request) {
    beast::get_lowest_layer(ws_).expires_never();  // the WebSocket timeouts take over
    websocket::stream_base::timeout timeout{};
    timeout.handshake_timeout = std::chrono::seconds(10);
    timeout.idle_timeout = ctx_.read_timeout;
    timeout.keep_alive_pings = true;  // ping at half the idle timeout; no pong closes
    ws_.set_option(timeout);
    ws_.read_message_max(kMaxBody);
    session_ = ctx_.executor.OpenSession(this);
    ws_.async_accept(request, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      self->DoRead();
    });
  }

  // core::SessionSink (engine thread = this thread).
  bool Push(std::string_view channel, std::string_view payload) override {
    if (closed_ || pushes_queued_ >= ctx_.max_push_queue) return false;
    Send(WsSignal(channel, payload), true);
    return true;
  }

  void Evicted() override {
    engine_closed_ = true;
    Close();
  }

 private:
  void DoRead() {
    ws_.async_read(in_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->OnRead(ec);
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec) return Close();  // closed, timed out or broken: cancel waits, release holds
    if (requests_.size() >= kMaxQueuedRequests) return Close();  // flooding
    requests_.push_back(beast::buffers_to_string(in_.data()));
    in_.consume(in_.size());
    ProcessNext();
    DoRead();
  }

  void ProcessNext() {
    while (!busy_ && !closed_ && !requests_.empty()) {
      WsRequest req = ParseWsRequest(requests_.front());
      requests_.pop_front();
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

  void OnResult(const boost::json::value& id, Endpoint endpoint, std::size_t index,
                core::Result<core::Reply> r) {
    busy_ = false;
    if (ctx_.metrics != nullptr) {
      ctx_.metrics->ObserveLatency(metrics::Transport::kWebSocket, index, stopwatch_.Elapsed());
    }
    if (closed_ || (!r.ok() && r.error() == core::ErrorCode::kCancelled)) return;
    Send(r.ok() ? WsResponse(id, ReplyJson(endpoint, r.value())) : WsError(id, ErrorFor(r.error())),
         false);
    if (!in_submit_) {
      // Answered from inside another client's call: continue from our own turn.
      asio::post(ws_.get_executor(), [self = this->shared_from_this()] { self->ProcessNext(); });
    }
  }

  void Send(std::string text, bool is_push) {
    outbox_.push_back({std::move(text), is_push});
    if (is_push) ++pushes_queued_;
    if (!writing_) DoWrite();
  }

  void DoWrite() {
    if (closed_ || outbox_.empty()) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(outbox_.front().text),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      if (self->outbox_.front().is_push) --self->pushes_queued_;
                      self->outbox_.pop_front();
                      if (ec) return self->Close();
                      self->DoWrite();
                    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (!engine_closed_) {
      engine_closed_ = true;
      ctx_.executor.CloseSession(session_);
    }
    beast::get_lowest_layer(ws_).close();
  }

  struct Outgoing {
    std::string text;
    bool is_push;
  };

  websocket::stream<Stream> ws_;
  HttpContext& ctx_;
  beast::flat_buffer in_;
  std::deque<std::string> requests_;
  std::deque<Outgoing> outbox_;
  std::size_t pushes_queued_ = 0;
  metrics::Stopwatch stopwatch_;
  core::SessionId session_ = 0;
  bool busy_ = false;
  bool in_submit_ = false;
  bool writing_ = false;
  bool closed_ = false;
  bool engine_closed_ = false;
};

}  // namespace

void StartWebSocket(beast::tcp_stream stream, Request request, HttpContext& context) {
  std::make_shared<WebSocketSession<beast::tcp_stream>>(std::move(stream), context)
      ->Start(std::move(request));
}

void StartWebSocket(asio::ssl::stream<beast::tcp_stream> stream, Request request,
                    HttpContext& context) {
  std::make_shared<WebSocketSession<asio::ssl::stream<beast::tcp_stream>>>(std::move(stream),
                                                                          context)
      ->Start(std::move(request));
}

}  // namespace dflockd::http
