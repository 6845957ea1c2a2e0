// Pure checks on a WebSocket upgrade request: the handshake key, and the token a
// browser passes as a subprotocol (it cannot set an Authorization header).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dflockd::http {

/// RFC 6455 §4.2.1: the key is 16 bytes, base64-encoded (22 characters and "==").
bool IsValidWebSocketKey(std::string_view key);

/// The subprotocol that carries a token: `bearer.<base64url(token)>` (no padding).
inline constexpr std::string_view kBearerSubprotocolPrefix = "bearer.";
/// Offered alongside it, the subprotocol the server then selects, so the token is
/// not echoed back.
inline constexpr std::string_view kDflockdSubprotocol = "dflockd";

struct BearerSubprotocol {
  std::string entry;                 ///< the offered `bearer.…` entry; empty if none
  std::optional<std::string> token;  ///< its decoded token; nothing if malformed
  std::string selected;              ///< what to echo: `dflockd` if offered, else `entry`
                                     ///< (empty: neither offered)
};

/// Looks for a bearer entry in a `Sec-WebSocket-Protocol` list.
BearerSubprotocol FindBearerSubprotocol(std::string_view offered);

/// Decodes unpadded (or padded) base64url; nothing on a character outside it.
std::optional<std::string> DecodeBase64Url(std::string_view in);

}  // namespace dflockd::http
