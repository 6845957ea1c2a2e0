// Token-shaped input: fencing tokens (parse/format round trip), Authorization
// values (the Bearer rule), the WebSocket handshake key and base64url subprotocol
// tokens (checked against an encoder written here).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/bearer.h"
#include "core/token_source.h"
#include "http/websocket_auth.h"

namespace {

std::string EncodeBase64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (unsigned char c : in) {
    bits = (bits << 8) | c;
    nbits += 8;
    while (nbits >= 6) {
      nbits -= 6;
      out.push_back(kAlphabet[(bits >> nbits) & 63]);
    }
  }
  if (nbits > 0) out.push_back(kAlphabet[(bits << (6 - nbits)) & 63]);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dflockd;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto token = core::ParseToken(input)) {
    if (core::FormatToken(*token) != input) __builtin_trap();
  }
  if (auto bearer = auth::BearerToken(input)) {
    if (input.find(*bearer) == std::string_view::npos) __builtin_trap();
    if (!bearer->empty() && (bearer->front() == ' ' || bearer->back() == ' ')) __builtin_trap();
  }
  std::string_view trimmed = auth::TrimToken(input);
  if (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.back() == '\t')) __builtin_trap();
  if (http::IsValidWebSocketKey(input)) {
    std::string_view key = auth::TrimToken(input).substr(0, 22);
    std::string standard(key);
    for (char& c : standard) c = c == '+' ? '-' : c == '/' ? '_' : c;
    auto decoded = http::DecodeBase64Url(standard);
    if (!decoded || decoded->size() != 16) __builtin_trap();
  }
  auto round = http::DecodeBase64Url(EncodeBase64Url(input));
  if (!round || *round != input) __builtin_trap();
  (void)http::FindBearerSubprotocol(input);
  return 0;
}
