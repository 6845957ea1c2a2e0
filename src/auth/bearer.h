// How a presented token is read, the same on every transport: surrounding spaces and
// tabs are not part of it (the native `auth` arg is trimmed, HTTP drops a field's
// surrounding whitespace), and the `Bearer` scheme name is case-insensitive
// (RFC 7235 §2.1) in HTTP, WebSocket and gRPC metadata alike.
#pragma once

#include <optional>
#include <string_view>

namespace dflockd::auth {

/// `token` without leading or trailing spaces and tabs.
std::string_view TrimToken(std::string_view token);

/// The token of an `Authorization` value `Bearer <token>` (scheme in any case, one or
/// more spaces after it), trimmed; nothing if the value is not a Bearer credential.
std::optional<std::string_view> BearerToken(std::string_view authorization);

}  // namespace dflockd::auth
