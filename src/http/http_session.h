// One HTTP/1.1 connection (plain or TLS): REST requests, health, metrics, and the
// upgrade to WebSocket.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "http/http_context.h"

namespace dflockd::http {

void StartHttpSession(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls,
                      HttpContext& context);

}  // namespace dflockd::http
