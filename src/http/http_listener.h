// The HTTP/WebSocket listener (port 6389).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <string>

#include "http/http_context.h"

namespace dflockd::http {

class HttpListener {
 public:
  HttpListener(boost::asio::io_context& io, HttpContext& context, std::string host,
               std::uint16_t port, boost::asio::ssl::context* tls);
  /// Binds and starts accepting; throws boost::system::system_error on failure.
  void Start();
  void StopAccepting();

 private:
  void DoAccept();

  HttpContext& context_;
  std::string host_;
  std::uint16_t port_;
  boost::asio::ssl::context* tls_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
};

}  // namespace dflockd::http
