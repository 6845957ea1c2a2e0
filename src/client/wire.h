// The native protocol from the client's side: requests built from validated
// arguments, replies parsed into values or exceptions. No I/O here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd::wire {

using Resource = ResourceKind;

/// One request's bytes and how long the server may block before answering.
struct Request {
  std::string bytes;
  std::chrono::seconds server_wait{0};
};

// Builders validate every argument and throw InvalidArgument before anything is sent.
Request Acquire(Resource r, std::string_view key, std::chrono::seconds timeout, std::uint32_t limit,
                std::optional<std::chrono::seconds> lease);
Request Release(Resource r, std::string_view key, std::string_view token);
Request Renew(Resource r, std::string_view key, std::string_view token,
              std::optional<std::chrono::seconds> lease);
Request Enqueue(Resource r, std::string_view key, std::uint32_t limit,
                std::optional<std::chrono::seconds> lease);
Request Wait(Resource r, std::string_view key, std::chrono::seconds timeout);
Request Auth(std::string_view token);
Request Ping();
Request Stats();
Request Topology();
Request Listen(std::string_view pattern, std::string_view group);
Request Unlisten(std::string_view pattern, std::string_view group);
Request Emit(std::string_view channel, std::string_view payload);

/// `ok <token> <lease>` → Grant; `timeout` → TimeoutError; other → ServerError/AuthError.
Grant ParseGrant(std::string_view reply, std::string_view key);
/// `ok` → nothing; anything else throws.
void ParseOk(std::string_view reply, std::string_view what);
/// `ok <n>` → n (renew's new TTL, signal's delivery count).
std::int64_t ParseOkNumber(std::string_view reply, std::string_view what);
/// `acquired <token> <lease>` or `queued`.
EnqueueResult ParseEnqueue(std::string_view reply, std::string_view key);
/// `ok <json>` → Stats.
dflockd::Stats ParseStats(std::string_view reply);
/// `ok {"cluster":true,"shards":[…]}` → the shard list; `error` (a single server,
/// which does not know the command) → empty.
std::vector<ServerAddress> ParseTopology(std::string_view reply);

/// A `sig <channel> <payload>` push line (without its newline), or nothing.
std::optional<Signal> ParsePush(std::string_view line);

/// Throws the exception that matches an error status line.
[[noreturn]] void ThrowStatus(std::string_view reply, std::string_view what);

}  // namespace dflockd::wire
