// Hands an upgraded HTTP connection over to a WebSocket session.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <string>

#include "http/http_context.h"

namespace dflockd::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

/// How the upgrade request authenticated, when the server has a token.
struct WebSocketAuth {
  bool authenticated = true;  ///< false: the first message must be `{"op":"auth",...}`
  std::string subprotocol;    ///< echoed in the handshake response if not empty
};

void StartWebSocket(boost::beast::tcp_stream stream, Request request, ConnectionSlot slot,
                    WebSocketAuth auth, HttpContext& context);
void StartWebSocket(boost::asio::ssl::stream<boost::beast::tcp_stream> stream, Request request,
                    ConnectionSlot slot, WebSocketAuth auth, HttpContext& context);

}  // namespace dflockd::http
