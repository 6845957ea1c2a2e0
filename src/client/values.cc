// Small value helpers: sharding hash, server addresses, fences.
#include <boost/crc.hpp>

#include <charconv>

#include "dflockd/client/errors.h"
#include "dflockd/client/options.h"
#include "dflockd/client/sharding.h"
#include "dflockd/client/types.h"

namespace dflockd {

std::uint32_t crc32(std::string_view bytes) noexcept {
  boost::crc_32_type crc;  // CRC-32/IEEE, reflected, the same polynomial and xor as zlib
  crc.process_bytes(bytes.data(), bytes.size());
  return crc.checksum();
}

std::size_t stable_hash_shard(std::string_view key, std::size_t num_servers) noexcept {
  return num_servers == 0 ? 0 : crc32(key) % num_servers;
}

ServerAddress ServerAddress::parse(std::string_view text) {
  ServerAddress out;
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {  // [v6]:port
    auto close = text.find(']');
    if (close == std::string_view::npos) throw InvalidArgument("bad server address: " + std::string(text));
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') throw InvalidArgument("bad server address: " + std::string(text));
      port = text.substr(close + 2);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos &&
                                            text.find(':') == colon) {
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) throw InvalidArgument("bad server address (no host): " + std::string(text));
  out.host = std::string(host);
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535) {
      throw InvalidArgument("bad port in server address: " + std::string(text));
    }
    out.port = static_cast<std::uint16_t>(value);
  }
  return out;
}

std::string ServerAddress::to_string() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::uint64_t Grant::fence() const {
  std::uint64_t value = 0;
  if (token.size() < 16) return 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + 16, value, 16);
  return ec == std::errc{} && end == token.data() + 16 ? value : 0;
}

}  // namespace dflockd
