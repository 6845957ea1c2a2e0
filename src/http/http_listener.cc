#include "http/http_listener.h"

#include <spdlog/spdlog.h>

#include "http/http_session.h"

namespace dflockd::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

HttpListener::HttpListener(asio::io_context& io, HttpContext& context, std::string host,
                           std::uint16_t port, asio::ssl::context* tls)
    : context_(context),
      host_(std::move(host)),
      port_(port),
      tls_(tls),
      acceptor_(io),
      retry_timer_(io) {}

void HttpListener::Start() {
  tcp::endpoint endpoint(asio::ip::make_address(host_), port_);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  spdlog::info("HTTP/WebSocket listening on {}:{}{}", host_, port_, tls_ ? " (TLS)" : "");
  DoAccept();
}

void HttpListener::StopAccepting() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
}

void HttpListener::DoAccept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;
    if (!ec) {
      boost::system::error_code ep_ec;
      auto remote = socket.remote_endpoint(ep_ec);
      std::string ip = ep_ec ? std::string() : remote.address().to_string();
      if (ep_ec || !context_.limiter.TryAdmit(ip)) {
        // Over a connection cap: closed at once, nothing written (as on the native port).
        spdlog::debug("HTTP connection from {} refused: connection limit", ip);
        socket.close(ep_ec);
      } else {
        StartHttpSession(std::move(socket), ConnectionSlot(context_, std::move(ip)), tls_,
                         context_);
      }
    } else {
      // Typically out of file descriptors: back off instead of spinning.
      spdlog::warn("HTTP accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](boost::system::error_code e) {
        if (!e) DoAccept();
      });
      return;
    }
    DoAccept();
  });
}

}  // namespace dflockd::http
