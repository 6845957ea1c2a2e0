#include "core/token.h"

#include <array>

namespace dflockd::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void PutHex(std::uint64_t v, char* out) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

/// Lowercase hex digit values; 0xff for every other byte. A table rather than range
/// checks: every release and renew parses a token (32 digits) on the hot path.
constexpr std::array<std::uint8_t, 256> kHexValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int i = 0; i < 16; ++i) t[static_cast<unsigned char>(kHex[i])] = static_cast<std::uint8_t>(i);
  return t;
}();

std::optional<std::uint64_t> GetHex(std::string_view s) {
  std::uint64_t v = 0;
  std::uint8_t invalid = 0;
  for (char c : s) {
    const std::uint8_t d = kHexValue[static_cast<unsigned char>(c)];
    invalid |= d;  // only 0xff has bit 7 set
    v = (v << 4) | (d & 0xf);
  }
  if (invalid & 0x80) return std::nullopt;
  return v;
}

void WriteToken(Token token, char* out) {
  PutHex(token.fence, out);
  PutHex(token.nonce, out + 16);
}

}  // namespace

void AppendToken(std::string& out, Token token) {
  const std::size_t at = out.size();
  out.resize(at + kTokenDigits);
  WriteToken(token, out.data() + at);
}

std::string FormatToken(Token token) {
  std::string s(kTokenDigits, '0');
  WriteToken(token, s.data());
  return s;
}

std::optional<Token> ParseToken(std::string_view text) {
  if (text.size() != kTokenDigits) return std::nullopt;
  auto fence = GetHex(text.substr(0, 16));
  auto nonce = GetHex(text.substr(16));
  if (!fence || !nonce) return std::nullopt;
  return Token{*fence, *nonce};
}

}  // namespace dflockd::core
