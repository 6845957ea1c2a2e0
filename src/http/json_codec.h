// JSON bodies and messages ↔ core commands and replies, for REST and WebSocket.
// Pure.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/command.h"
#include "core/reply.h"
#include "core/status.h"
#include "http/router.h"
#include "http/status_map.h"

namespace dflockd::http {

/// The command for a REST route and its JSON body (an empty body is `{}`).
core::Result<core::Command> CommandFromBody(const Route& route, std::string_view body);

/// A WebSocket request: {"id": any, "op": "...", ...fields of the REST body}, or
/// {"id": any, "op": "auth", "token": "..."} (not a core command).
struct WsRequest {
  boost::json::value id;  ///< echoed back; null if absent
  Route route;            ///< endpoint, namespace (from "kind") and key/channel/pattern
  core::Result<core::Command> command = core::ErrorCode::kInvalid;
  std::optional<std::string> auth_token;  ///< set for op "auth" (command stays invalid)
  /// op "watch" {"pattern": ">"} / "unwatch": not engine commands either.
  std::optional<std::string> watch_pattern;
  bool unwatch = false;
};
WsRequest ParseWsRequest(std::string_view text);

/// The JSON result object of a successful reply.
std::string ReplyJson(Endpoint endpoint, const core::Reply& reply);
/// {"error": code, "message": text}
std::string ErrorJson(const HttpError& error);
std::string ErrorJson(const char* code, std::string_view message);

/// WebSocket frames.
std::string WsResponse(const boost::json::value& id, const std::string& result_json);
std::string WsError(const boost::json::value& id, const HttpError& error);
std::string WsSignal(std::string_view channel, std::string_view payload);

}  // namespace dflockd::http
