// One HTTP/1.1 connection (plain or TLS): REST requests, health, metrics, and the
// upgrade to WebSocket.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "http/http_context.h"

namespace dflockd::http {

/// Serves an accepted connection; `slot` is its place under the connection caps.
void StartHttpSession(boost::asio::ip::tcp::socket socket, ConnectionSlot slot,
                      boost::asio::ssl::context* tls, HttpContext& context);

}  // namespace dflockd::http
