// Key-to-server routing, shared with the other dflockd clients.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

namespace dflockd {

/// Maps a key to a server index in [0, num_servers). Must be deterministic and the
/// same on every client that shares the servers, or two clients lock different copies.
using ShardingStrategy = std::function<std::size_t(std::string_view key, std::size_t num_servers)>;

/// CRC-32/IEEE of the bytes, identical to zlib's crc32 (check: "123456789" → 0xCBF43926).
std::uint32_t crc32(std::string_view bytes) noexcept;

/// The default strategy: crc32(key) % num_servers, as in the Python and Go clients.
std::size_t stable_hash_shard(std::string_view key, std::size_t num_servers) noexcept;

}  // namespace dflockd
