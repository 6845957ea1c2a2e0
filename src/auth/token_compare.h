// Constant-time comparison of a presented auth token with the configured one.
#pragma once

#include <string_view>

namespace dflockd::auth {

/// Compares SHA-256 digests with CRYPTO_memcmp, so the time taken reveals neither
/// where the strings differ nor the configured token's length.
bool TokenMatches(std::string_view presented, std::string_view expected);

}  // namespace dflockd::auth
