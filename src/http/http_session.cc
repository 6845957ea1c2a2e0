// HTTP sessions: one request at a time per connection (keep-alive, no pipelining
// concurrency); a blocking acquire watches the socket so a client that hangs up
// withdraws its waiter.
#include "http/http_session.h"

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <memory>
#include <optional>

#include "auth/token_compare.h"
#include "http/json_codec.h"
#include "http/router.h"
#include "http/status_map.h"
#include "http/websocket_session.h"

namespace dflockd::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Response = bhttp::response<bhttp::string_body>;

template <typename Stream>
class HttpSession final : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  template <typename... Args>
  explicit HttpSession(HttpContext& ctx, Args&&... args)
      : ctx_(ctx), stream_(std::forward<Args>(args)...) {
    ++ctx_.connections;
    if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionOpened(metrics::Transport::kHttp);
    // A connection is a session (it counts in stats, and owns two-phase state);
    // plain acquires are deliberately not tied to it.
    session_ = ctx_.executor.OpenSession(nullptr);
  }

  ~HttpSession() {
    if (session_ != 0) ctx_.executor.CloseSession(session_);
    if (!handed_over_) {
      --ctx_.connections;
      if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionClosed(metrics::Transport::kHttp);
    }
  }

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      DoRead();
    } else {
      beast::get_lowest_layer(stream_).expires_after(ctx_.read_timeout);
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->DoRead();
                              });
    }
  }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->header_limit(kMaxHeader);
    parser_->body_limit(kMaxBody);
    // Covers the whole request, so a slowloris client cannot hold the connection.
    beast::get_lowest_layer(stream_).expires_after(ctx_.read_timeout);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                               self->OnHeader(ec);
                             });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnRead(ec);
    const auto& req = parser_->get();
    if (parser_->is_done() || !beast::iequals(req[bhttp::field::expect], "100-continue")) {
      return ReadBody();
    }
    // curl and others wait for this before sending a body over 1 KiB.
    continue_ = std::make_unique<bhttp::response<bhttp::empty_body>>(bhttp::status::continue_,
                                                                      req.version());
    bhttp::async_write(stream_, *continue_,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         self->continue_.reset();
                         if (ec) return self->Close();
                         self->ReadBody();
                       });
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->OnRead(ec);
                      });
  }

  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) return Fail(413, "too_large", "request body too large");
    if (ec == bhttp::error::header_limit) {
      return Fail(431, "header_too_large", "request header too large");
    }
    if (ec) return Fail(400, "bad_request", "malformed HTTP request");
    Handle(parser_->get());
  }

  /// Answers a request we could not parse, then closes.
  void Fail(unsigned status, const char* code, const char* message) {
    Request dummy;
    dummy.version(11);
    dummy.keep_alive(false);
    Send(dummy, status, ErrorJson(code, message), "application/json");
  }

  void Handle(Request& req) {
    Route route = MatchRoute(std::string_view(req.method_string().data(), req.method_string().size()),
                             std::string_view(req.target().data(), req.target().size()));
    const bool open = route.endpoint == Endpoint::kHealthz || route.endpoint == Endpoint::kReadyz;
    if (!open && !Authorized(req)) {
      Response res = MakeResponse(req, 401, ErrorJson("unauthorized", "missing or wrong bearer token"),
                                  "application/json");
      res.set(bhttp::field::www_authenticate, "Bearer");
      return Write(std::move(res));
    }
    switch (route.endpoint) {
      case Endpoint::kNotFound:
        return Send(req, 404, ErrorJson("not_found", "no such endpoint"), "application/json");
      case Endpoint::kMethodNotAllowed: {
        Response res = MakeResponse(req, 405, ErrorJson("method_not_allowed", "method not allowed"),
                                    "application/json");
        res.set(bhttp::field::allow, route.allow);
        return Write(std::move(res));
      }
      case Endpoint::kHealthz:
        return Send(req, 200, R"({"status":"ok"})", "application/json");
      case Endpoint::kReadyz:
        if (ctx_.draining && ctx_.draining()) {
          return Send(req, 503, R"({"status":"draining"})", "application/json");
        }
        return Send(req, 200, R"({"status":"ready"})", "application/json");
      case Endpoint::kMetrics:
        return Send(req, 200, ctx_.render_metrics ? ctx_.render_metrics() : std::string(),
                    "text/plain; version=0.0.4; charset=utf-8");
      case Endpoint::kWebSocket:
        if (!beast::websocket::is_upgrade(req)) {
          return Send(req, 400, ErrorJson("bad_request", "expected a WebSocket upgrade"),
                      "application/json");
        }
        handed_over_ = true;  // the WebSocket session takes over the connection count
        if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionClosed(metrics::Transport::kHttp);
        --ctx_.connections;
        ctx_.executor.CloseSession(session_);
        session_ = 0;
        return StartWebSocket(std::move(stream_), parser_->release(), ctx_);
      default:
        break;
    }
    auto command = CommandFromBody(route, req.body());
    if (!command) return SendError(req, command.error());
    Submit(req, route.endpoint, std::move(command.value()));
  }

  bool Authorized(const Request& req) const {
    if (ctx_.auth_token.empty()) return true;
    auto it = req.find(bhttp::field::authorization);
    if (it == req.end()) return false;
    std::string_view value(it->value().data(), it->value().size());
    constexpr std::string_view kBearer = "Bearer ";
    return value.substr(0, kBearer.size()) == kBearer &&
           auth::TokenMatches(value.substr(kBearer.size()), ctx_.auth_token);
  }

  void Submit(Request& req, Endpoint endpoint, core::Command command) {
    // Two-phase state belongs to a connection: enqueue/wait use this connection's
    // session. Plain acquires are not tied to the connection:
    // like native tokens, they last until release or lease expiry.
    const bool owned = endpoint == Endpoint::kEnqueue || endpoint == Endpoint::kWait;
    const core::SessionId session = owned ? session_ : 0;
    const std::size_t index = command.index();
    busy_ = true;
    in_submit_ = true;
    stopwatch_ = metrics::Stopwatch();
    waiting_ = ctx_.executor.Submit(
        session, std::move(command),
        // The completion owns a reference: the session outlives its waiting request.
        [self = this->shared_from_this(), &req, endpoint, index](core::Result<core::Reply> r) {
          self->OnResult(req, endpoint, index, std::move(r));
        });
    in_submit_ = false;
    if (busy_) WatchForHangUp();
  }

  void OnResult(const Request& req, Endpoint endpoint, std::size_t index,
                core::Result<core::Reply> r) {
    busy_ = false;
    waiting_ = core::kNoRequest;
    if (ctx_.metrics != nullptr) {
      ctx_.metrics->ObserveLatency(metrics::Transport::kHttp, index, stopwatch_.Elapsed());
    }
    if (closed_ || (!r.ok() && r.error() == core::ErrorCode::kCancelled)) return;
    if (!in_submit_) {
      // Woken from another client's call: stop watching the socket first.
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().cancel(ignored);
    }
    if (r.ok()) {
      Send(req, 200, ReplyJson(endpoint, r.value()), "application/json");
    } else {
      SendError(req, r.error());
    }
  }

  /// While a request waits, notice the client going away: readable with nothing to
  /// read means the peer closed. (Pipelined bytes end the watch; they wait their turn.)
  void WatchForHangUp() {
    beast::get_lowest_layer(stream_).expires_never();
    auto& socket = beast::get_lowest_layer(stream_).socket();
    socket.async_wait(tcp::socket::wait_read,
                      [self = this->shared_from_this()](beast::error_code ec) {
                        if (ec || !self->busy_) return;
                        char byte;
                        auto& s = beast::get_lowest_layer(self->stream_).socket();
                        std::size_t n = s.receive(asio::buffer(&byte, 1),
                                                  tcp::socket::message_peek, ec);
                        if (n == 0 && ec != asio::error::would_block) {
                          self->ctx_.executor.Cancel(self->waiting_);
                          self->Close();
                        }
                      });
  }

  void SendError(const Request& req, core::ErrorCode code) {
    HttpError e = ErrorFor(code);
    Send(req, e.status, ErrorJson(e), "application/json");
  }

  Response MakeResponse(const Request& req, unsigned status, std::string body,
                        const char* content_type) {
    Response res{static_cast<bhttp::status>(status), req.version()};
    res.set(bhttp::field::server, "dflockd");
    res.set(bhttp::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  void Send(const Request& req, unsigned status, std::string body, const char* content_type) {
    Write(MakeResponse(req, status, std::move(body), content_type));
  }

  void Write(Response res) {
    response_ = std::make_unique<Response>(std::move(res));
    beast::get_lowest_layer(stream_).expires_after(ctx_.write_timeout);
    bhttp::async_write(stream_, *response_,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         bool keep_alive = self->response_->keep_alive();
                         self->response_.reset();
                         if (ec || !keep_alive) return self->Close();
                         self->DoRead();
                       });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (session_ != 0) {
      ctx_.executor.CloseSession(session_);
      session_ = 0;
    }
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
  }

  HttpContext& ctx_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::unique_ptr<Response> response_;
  std::unique_ptr<bhttp::response<bhttp::empty_body>> continue_;
  metrics::Stopwatch stopwatch_;
  core::SessionId session_ = 0;
  core::RequestId waiting_ = core::kNoRequest;
  bool busy_ = false;
  bool in_submit_ = false;
  bool closed_ = false;
  bool handed_over_ = false;
};

}  // namespace

void StartHttpSession(tcp::socket socket, asio::ssl::context* tls, HttpContext& context) {
  if (tls != nullptr) {
    std::make_shared<HttpSession<asio::ssl::stream<beast::tcp_stream>>>(context, std::move(socket),
                                                                          *tls)
        ->Start();
  } else {
    std::make_shared<HttpSession<beast::tcp_stream>>(context, std::move(socket))->Start();
  }
}

}  // namespace dflockd::http
