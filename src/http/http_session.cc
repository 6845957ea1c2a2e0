// HTTP sessions: one request at a time per connection (keep-alive; pipelined
// requests wait their turn); while a request waits for the engine the connection is
// still read, so a client that hangs up withdraws its waiter.
#include "http/http_session.h"

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <array>
#include <memory>
#include <optional>

#include "auth/bearer.h"
#include "auth/token_compare.h"
#include "http/dashboard.h"
#include "http/json_codec.h"
#include "http/remote_address.h"
#include "http/response_bytes.h"
#include "http/router.h"
#include "http/websocket_auth.h"
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
class HttpSession final : public LiveConnection,
                          public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  template <typename... Args>
  explicit HttpSession(HttpContext& ctx, ConnectionSlot slot, Args&&... args)
      : ctx_(ctx), slot_(std::move(slot)), stream_(std::forward<Args>(args)...) {
    ctx_.live.insert(this);
    if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionOpened(metrics::Transport::kHttp);
    // A connection is a session (it counts in stats, and owns two-phase state);
    // plain acquires are deliberately not tied to it.
    session_ = ctx_.executor.OpenSession(nullptr);
    beast::error_code ec;
    auto peer = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec) {
      ctx_.executor.DescribeSession(session_, core::SessionInfo{"http", RemoteAddress(peer)});
    }
  }

  ~HttpSession() {
    ctx_.live.erase(this);
    if (session_ != 0) ctx_.executor.CloseSession(session_);
    if (busy_) --ctx_.busy_requests;
    if (!handed_over_ && ctx_.metrics != nullptr) {
      ctx_.metrics->ConnectionClosed(metrics::Transport::kHttp);
    }
  }

  void Abort() override {
    if (busy_) ctx_.executor.Cancel(waiting_);
    Close();
  }

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code ec;
      beast::get_lowest_layer(stream_).socket().non_blocking(true, ec);  // see Write()
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
    if (auto te = req.find(bhttp::field::transfer_encoding); te != req.end()) {
      // Only chunked is decoded; any other coding would be read as "no body" and the
      // rest of the stream taken for the next request (RFC 9112 §6.3: 400).
      std::string_view coding = auth::TrimToken(std::string_view(te->value().data(), te->value().size()));
      if (!beast::iequals(coding, "chunked")) {
        return Fail(400, "bad_request", "unsupported Transfer-Encoding (only chunked)");
      }
    }
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
    // Health probes need no token; a WebSocket may also authenticate inside the
    // socket (browsers cannot set headers on it).
    // The dashboard page holds no data: it asks for the token itself.
    const bool open = route.endpoint == Endpoint::kHealthz ||
                      route.endpoint == Endpoint::kReadyz || route.endpoint == Endpoint::kUi ||
                      (route.endpoint == Endpoint::kWebSocket &&
                       req.find(bhttp::field::authorization) == req.end());
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
      case Endpoint::kUi: {
        Response res = MakeResponse(req, 200, std::string(DashboardHtml()), "text/html; charset=utf-8");
        // Inline script and style only; it talks to this server and nothing else.
        res.set("Content-Security-Policy",
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                "frame-ancestors 'none'");
        res.set(bhttp::field::cache_control, "no-store");
        return Write(std::move(res));
      }
      case Endpoint::kTopology:
        return Send(req, 200, ctx_.topology_json, "application/json");
      case Endpoint::kCluster:
        return Send(req, 200, ctx_.cluster_json ? ctx_.cluster_json() : R"({"mode":"single"})",
                    "application/json");
      case Endpoint::kMetrics:
        return Send(req, 200, ctx_.render_metrics ? ctx_.render_metrics() : std::string(),
                    "text/plain; version=0.0.4; charset=utf-8");
      case Endpoint::kWebSocket: {
        if (!beast::websocket::is_upgrade(req)) {
          return Send(req, 400, ErrorJson("bad_request", "expected a WebSocket upgrade"),
                      "application/json");
        }
        if (!IsValidWebSocketKey(req[bhttp::field::sec_websocket_key])) {
          return Send(req, 400, ErrorJson("bad_request", "invalid Sec-WebSocket-Key"),
                      "application/json");
        }
        std::optional<WebSocketAuth> ws_auth = WebSocketAuthFor(req);
        if (!ws_auth) {
          return Send(req, 401, ErrorJson("unauthorized", "wrong bearer token"), "application/json");
        }
        handed_over_ = true;  // the WebSocket session takes over the connection slot
        if (ctx_.metrics != nullptr) ctx_.metrics->ConnectionClosed(metrics::Transport::kHttp);
        ctx_.executor.CloseSession(session_);
        session_ = 0;
        return StartWebSocket(std::move(stream_), parser_->release(), std::move(slot_),
                              std::move(*ws_auth), ctx_);
      }
      default:
        break;
    }
    auto command = CommandFromBody(route, req.body());
    if (!command) return SendError(req, command.error());
    Submit(req, route.endpoint, std::move(command.value()));
  }

  /// A WebSocket upgrade is authenticated by the `Authorization` header (checked
  /// before), or by a subprotocol `bearer.<base64url(token)>` (what a browser can
  /// send); with neither, its first message must be `auth`. Nothing if it presented a
  /// wrong token.
  std::optional<WebSocketAuth> WebSocketAuthFor(const Request& req) const {
    WebSocketAuth result;
    auto protocols = req[bhttp::field::sec_websocket_protocol];
    const BearerSubprotocol offered =
        FindBearerSubprotocol(std::string_view(protocols.data(), protocols.size()));
    result.subprotocol = offered.selected;
    if (ctx_.auth_token.empty() || req.find(bhttp::field::authorization) != req.end()) {
      return result;
    }
    if (offered.entry.empty()) {
      result.authenticated = false;
      return result;
    }
    if (!offered.token || !auth::TokenMatches(*offered.token, ctx_.auth_token)) return std::nullopt;
    return result;
  }

  bool Authorized(const Request& req) const {
    if (ctx_.auth_token.empty()) return true;
    auto it = req.find(bhttp::field::authorization);
    if (it == req.end()) return false;
    auto token = auth::BearerToken(std::string_view(it->value().data(), it->value().size()));
    return token && auth::TokenMatches(*token, ctx_.auth_token);
  }

  void Submit(Request& req, Endpoint endpoint, core::Command command) {
    // Two-phase state belongs to a connection: enqueue/wait use this connection's
    // session. Plain acquires are not tied to the connection:
    // like native tokens, they last until release or lease expiry.
    const bool owned = endpoint == Endpoint::kEnqueue || endpoint == Endpoint::kWait;
    const core::SessionId session = owned ? session_ : 0;
    const std::size_t index = command.index();
    busy_ = true;
    ++ctx_.busy_requests;
    stopwatch_ = metrics::Stopwatch();
    waiting_ = ctx_.executor.Submit(
        session, std::move(command),
        // The completion owns a reference: the session outlives its waiting request.
        [self = this->shared_from_this(), &req, endpoint, index](core::Result<core::Reply> r) {
          self->OnResult(req, endpoint, index, std::move(r));
        });
    if (busy_) WatchForHangUp();
  }

  void OnResult(const Request& req, Endpoint endpoint, std::size_t index,
                core::Result<core::Reply> r) {
    busy_ = false;
    --ctx_.busy_requests;
    waiting_ = core::kNoRequest;
    if (ctx_.metrics != nullptr) {
      ctx_.metrics->ObserveLatency(metrics::Transport::kHttp, index, stopwatch_.Elapsed());
    }
    if (closed_ || (!r.ok() && r.error() == core::ErrorCode::kCancelled)) return;
    if (watching_) {
      // Woken from another client's call: stop the hang-up watch (its read) first.
      beast::error_code ignored;
      beast::get_lowest_layer(stream_).socket().cancel(ignored);
    }
    if (r.ok()) {
      Send(req, 200, ReplyJson(endpoint, r.value()), "application/json");
    } else {
      SendError(req, r.error());
    }
  }

  /// While a request waits, keep reading, so that a client that goes away (FIN, RST,
  /// or a TLS close_notify) withdraws its waiter even if it pipelined bytes first:
  /// watching only for readability would stop at the first byte. Pipelined bytes are
  /// kept for the next request, up to kMaxPipelined; past that they are dropped and
  /// the connection closes after this answer, so a waiting client cannot make the
  /// server buffer without bound.
  void WatchForHangUp() {
    beast::get_lowest_layer(stream_).expires_never();
    watching_ = true;
    asio::mutable_buffer into = buffer_.size() < kMaxPipelined
                                    ? asio::mutable_buffer(buffer_.prepare(kWatchChunk))
                                    : asio::buffer(discard_);
    stream_.async_read_some(into, [self = this->shared_from_this()](beast::error_code ec,
                                                                     std::size_t n) {
      self->OnWatchRead(ec, n);
    });
  }

  void OnWatchRead(beast::error_code ec, std::size_t n) {
    watching_ = false;
    if (!ec) {
      if (buffer_.size() < kMaxPipelined) {
        buffer_.commit(n);
      } else {
        keep_alive_ = false;  // input was dropped: the stream cannot be parsed further
      }
      if (busy_ && !closed_) return WatchForHangUp();
    } else if (ec != asio::error::operation_aborted) {
      // The client is gone (or broke the stream): never grant it anything now.
      if (busy_) ctx_.executor.Cancel(waiting_);
      return Close();
    }
    if (read_after_watch_) {
      read_after_watch_ = false;
      DoRead();
    }
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
    // While draining, connections are closed after their answer so clients move on.
    const bool draining = ctx_.draining && ctx_.draining();
    res.keep_alive(req.keep_alive() && keep_alive_ && !draining);
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  }

  void Send(const Request& req, unsigned status, std::string body, const char* content_type) {
    Write(MakeResponse(req, status, std::move(body), content_type));
  }

  void Write(Response res) {
    const bool keep_alive = res.keep_alive();
    out_.clear();
    AppendResponseBytes(res, out_);
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      // Usually the socket takes the whole response at once: skip the asynchronous
      // write and its completion handler (the native port does the same). Only for a
      // kept-alive connection: this may run inside an engine completion, where closing
      // (which closes the engine session) must wait for a handler of its own.
      beast::error_code ec;
      auto& socket = beast::get_lowest_layer(stream_).socket();
      const std::size_t n = keep_alive ? socket.write_some(asio::buffer(out_), ec) : 0;
      if (!ec && n == out_.size()) return AfterWrite(true);
      if (!ec) out_.erase(0, n);  // an error shows again in the asynchronous write
    }
    beast::get_lowest_layer(stream_).expires_after(ctx_.write_timeout);
    asio::async_write(stream_, asio::buffer(out_),
                      [self = this->shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        if (ec) return self->Close();
                        self->AfterWrite(keep_alive);
                      });
  }

  void AfterWrite(bool keep_alive) {
    if (out_.capacity() > kKeepOutputCapacity) std::string().swap(out_);
    if (!keep_alive) return Close();
    // The hang-up watch's cancelled read must finish before the next request is read.
    if (watching_) {
      read_after_watch_ = true;
      return;
    }
    DoRead();
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

  /// Pipelined input kept while a request waits; beyond it, input is dropped.
  static constexpr std::size_t kMaxPipelined = kMaxHeader + kMaxBody;
  static constexpr std::size_t kWatchChunk = 4096;
  /// A response buffer beyond this (a big stats answer) is freed after its write.
  static constexpr std::size_t kKeepOutputCapacity = 16 * 1024;

  HttpContext& ctx_;
  ConnectionSlot slot_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::array<char, kWatchChunk> discard_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string out_;  ///< the response being written
  std::unique_ptr<bhttp::response<bhttp::empty_body>> continue_;
  metrics::Stopwatch stopwatch_;
  core::SessionId session_ = 0;
  core::RequestId waiting_ = core::kNoRequest;
  bool busy_ = false;
  bool watching_ = false;          ///< the hang-up watch's read is pending
  bool read_after_watch_ = false;  ///< the next request is read when it ends
  bool keep_alive_ = true;         ///< false: close after the current answer
  bool closed_ = false;
  bool handed_over_ = false;
};

}  // namespace

void StartHttpSession(tcp::socket socket, ConnectionSlot slot, asio::ssl::context* tls,
                      HttpContext& context) {
  if (tls != nullptr) {
    std::make_shared<HttpSession<asio::ssl::stream<beast::tcp_stream>>>(
        context, std::move(slot), std::move(socket), *tls)
        ->Start();
  } else {
    std::make_shared<HttpSession<beast::tcp_stream>>(context, std::move(slot), std::move(socket))
        ->Start();
  }
}

}  // namespace dflockd::http
