#include "http/websocket_auth.h"

#include "auth/bearer.h"

namespace dflockd::http {
namespace {

int Base64Value(char c, bool url) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

}  // namespace

bool IsValidWebSocketKey(std::string_view key) {
  key = auth::TrimToken(key);
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    if (Base64Value(c, false) < 0) return false;
  }
  // The last character carries 2 data bits; its 4 low bits must be zero.
  return (Base64Value(key[21], false) & 0x0f) == 0;
}

std::optional<std::string> DecodeBase64Url(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned bits = 0;
  int nbits = 0;
  for (char c : in) {
    int v = Base64Value(c, true);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
  return out;
}

BearerSubprotocol FindBearerSubprotocol(std::string_view offered) {
  BearerSubprotocol result;
  bool dflockd_offered = false;
  while (!offered.empty()) {
    std::size_t comma = offered.find(',');
    std::string_view entry = auth::TrimToken(offered.substr(0, comma));
    offered = comma == std::string_view::npos ? std::string_view() : offered.substr(comma + 1);
    if (entry == kDflockdSubprotocol) dflockd_offered = true;
    if (result.entry.empty() && entry.substr(0, kBearerSubprotocolPrefix.size()) ==
                                    kBearerSubprotocolPrefix) {
      result.entry = std::string(entry);
      result.token = DecodeBase64Url(entry.substr(kBearerSubprotocolPrefix.size()));
    }
  }
  if (!result.entry.empty()) {
    result.selected = dflockd_offered ? std::string(kDflockdSubprotocol) : result.entry;
  } else if (dflockd_offered) {
    // A browser that offers a subprotocol fails the socket unless one is selected.
    result.selected = std::string(kDflockdSubprotocol);
  }
  return result;
}

}  // namespace dflockd::http
