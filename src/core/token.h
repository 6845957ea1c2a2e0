// Fencing tokens: a strictly increasing 64-bit fence and 64 random bits, written as
// 32 lowercase hex digits (the fence's 16 first). The engine keeps and hands out the
// binary form; adapters write the digits where the reply is built (no allocation per
// grant) and parse them where a request is decoded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dflockd::core {

struct Token {
  std::uint64_t fence = 0;
  std::uint64_t nonce = 0;
  bool operator==(const Token&) const = default;
};

inline constexpr std::size_t kTokenDigits = 32;

/// Appends the 32 digits to `out`.
void AppendToken(std::string& out, Token token);
/// 32 lowercase hex digits.
std::string FormatToken(Token token);
/// Parses exactly 32 lowercase hex digits; anything else is not a token.
std::optional<Token> ParseToken(std::string_view text);

}  // namespace dflockd::core
