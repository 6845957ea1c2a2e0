#include "auth/bearer.h"

#include <strings.h>

namespace dflockd::auth {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

}  // namespace

std::string_view TrimToken(std::string_view token) {
  while (!token.empty() && IsSpace(token.front())) token.remove_prefix(1);
  while (!token.empty() && IsSpace(token.back())) token.remove_suffix(1);
  return token;
}

std::optional<std::string_view> BearerToken(std::string_view authorization) {
  authorization = TrimToken(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size() || !IsSpace(authorization[kScheme.size()]) ||
      ::strncasecmp(authorization.data(), kScheme.data(), kScheme.size()) != 0) {
    return std::nullopt;
  }
  return TrimToken(authorization.substr(kScheme.size()));
}

}  // namespace dflockd::auth
