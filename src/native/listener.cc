#include "native/listener.h"

#include <spdlog/spdlog.h>

namespace dflockd::native {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Listener::Listener(asio::io_context& io, core::CommandExecutor& executor, ListenerConfig config)
    : io_(io),
      config_(std::move(config)),
      registry_(io, config_.read_timeout, config_.write_timeout, config_.max_connections,
                config_.max_per_ip),
      context_{executor, registry_, config_.session, config_.cluster},
      acceptor_(io),
      retry_timer_(io) {}

void Listener::Start() {
  tcp::endpoint endpoint(asio::ip::make_address(config_.host), config_.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
  spdlog::info("native protocol listening on {}:{}{}", config_.host,
               acceptor_.local_endpoint().port(),
               config_.tls != nullptr ? " (TLS)" : "");
  DoAccept();
}

void Listener::StopAccepting() {
  boost::system::error_code ec;
  acceptor_.close(ec);
  retry_timer_.cancel();
}

void Listener::DoAccept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Typically out of file descriptors: back off instead of spinning.
      spdlog::warn("native accept failed: {}", ec.message());
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](boost::system::error_code e) {
        if (!e) DoAccept();
      });
      return;
    }
    boost::system::error_code ep_ec;
    auto remote = socket.remote_endpoint(ep_ec);
    std::string ip = ep_ec ? std::string() : remote.address().to_string();
    if (ep_ec || !registry_.Admits(ip)) {
      // Over a connection cap (§4): close at once, nothing written.
      spdlog::debug("native connection from {} refused: connection limit", ip);
      socket.close(ep_ec);
    } else if (config_.tls != nullptr) {
      StartTlsSession(std::move(socket), std::move(ip), *config_.tls, context_);
    } else {
      StartPlainSession(std::move(socket), std::move(ip), context_);
    }
    DoAccept();
  });
}

}  // namespace dflockd::native
