// The ordered shard list of a sharded deployment and the routing rule every client
// shares: key `k` belongs to shard crc32(k) % N (zlib's CRC-32/IEEE).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dflockd::cluster {

struct Topology {
  /// Native `host:port` of every shard, in the order clients list them. Empty: a
  /// single server, nothing is routed.
  std::vector<std::string> shards;
  std::size_t self = 0;  ///< this process's index in `shards`

  bool sharded() const { return !shards.empty(); }
  std::size_t Owner(std::string_view key) const;
  bool Owns(std::string_view key) const { return !sharded() || Owner(key) == self; }
};

/// `{"cluster":true,"self":1,"shards":["a:6388",…]}`, or `{"cluster":false,"shards":[]}`
/// for a single server. (Addresses are validated at start-up: no quoting needed.)
std::string TopologyJson(const Topology& topology);

/// Splits and checks a `host:port,host:port` list; throws std::invalid_argument.
std::vector<std::string> ParseShardList(std::string_view list);

}  // namespace dflockd::cluster
