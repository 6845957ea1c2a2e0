#include "cluster/topology.h"

#include <zlib.h>

#include <charconv>
#include <stdexcept>

namespace dflockd::cluster {

std::size_t Topology::Owner(std::string_view key) const {
  const auto crc = ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(key.data()),
                           static_cast<uInt>(key.size()));
  return static_cast<std::size_t>(crc % shards.size());
}

std::string TopologyJson(const Topology& topology) {
  if (!topology.sharded()) return R"({"cluster":false,"shards":[]})";
  std::string out = R"({"cluster":true,"self":)";
  out += std::to_string(topology.self);
  out += R"(,"shards":[)";
  for (std::size_t i = 0; i < topology.shards.size(); ++i) {
    if (i != 0) out += ',';
    out += '"';
    out += topology.shards[i];
    out += '"';
  }
  out += "]}";
  return out;
}

namespace {

/// host:port with a non-empty host of DNS/IPv4 characters (or a [v6] literal) and a
/// port in 1..65535.
void CheckAddress(std::string_view entry) {
  auto colon = entry.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    throw std::invalid_argument("shard \"" + std::string(entry) + "\" is not host:port");
  }
  std::string_view host = entry.substr(0, colon);
  std::string_view port = entry.substr(colon + 1);
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    throw std::invalid_argument("shard \"" + std::string(entry) + "\" has no valid port");
  }
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']';
    if (!ok) throw std::invalid_argument("shard \"" + std::string(entry) + "\": bad host name");
  }
}

}  // namespace

std::vector<std::string> ParseShardList(std::string_view list) {
  std::vector<std::string> shards;
  while (!list.empty()) {
    auto comma = list.find(',');
    std::string_view entry = list.substr(0, comma);
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) throw std::invalid_argument("empty entry in the shard list");
    CheckAddress(entry);
    shards.emplace_back(entry);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return shards;
}

}  // namespace dflockd::cluster
