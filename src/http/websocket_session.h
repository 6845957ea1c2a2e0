// Hands an upgraded HTTP connection over to a WebSocket session.
#pragma once

#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/http_context.h"

namespace dflockd::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

void StartWebSocket(boost::beast::tcp_stream stream, Request request, HttpContext& context);
void StartWebSocket(boost::asio::ssl::stream<boost::beast::tcp_stream> stream, Request request,
                    HttpContext& context);

}  // namespace dflockd::http
