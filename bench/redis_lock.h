// The classic Redis lock pattern, for comparison runs (--target redis):
// acquire = SET key token NX PX ttl, release = compare-and-delete in a Lua script.
// Pure encoding/decoding of RESP; the benchmark does the I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dflockd::bench {

/// A RESP array of bulk strings (how clients send commands).
std::string RespCommand(const std::vector<std::string_view>& args);

/// SET key token NX PX ttl_ms
std::string RedisAcquire(std::string_view key, std::string_view token, long ttl_ms);
/// EVAL <compare-and-delete> 1 key token
std::string RedisRelease(std::string_view key, std::string_view token);

extern const char* const kRedisReleaseScript;

/// One complete RESP reply at the start of `buffer`: its length, or 0 if incomplete.
/// Handles simple strings, errors, integers, bulk strings and null bulk strings.
std::size_t RespReplyLength(std::string_view buffer);

}  // namespace dflockd::bench
