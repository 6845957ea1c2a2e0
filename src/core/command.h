// The command objects every adapter produces. Plain data: an adapter parses its
// wire input into one of these and submits it to the engine; the engine never sees
// bytes, JSON or protobuf.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "core/token.h"

namespace dflockd::core {

/// Locks and semaphores live in separate key namespaces (`l foo` and `sl foo` are
/// two resources). A lock is a resource whose limit is 1.
enum class Namespace : std::uint8_t { kLock, kSemaphore };

/// Acquire a lock or semaphore slot, waiting up to `timeout_s` (0 = try once).
struct Acquire {
  Namespace ns = Namespace::kLock;
  std::string key;
  std::int64_t timeout_s = 0;
  std::optional<std::int64_t> lease_s;  ///< empty: the server's default lease
  std::uint32_t limit = 1;              ///< always 1 for locks
  /// Lock-delay of this hold if it ends without a release; empty: the server's.
  std::optional<std::int64_t> lock_delay_s;
};

/// Two-phase acquisition, phase 1: join the queue (or get the grant at once).
struct Enqueue {
  Namespace ns = Namespace::kLock;
  std::string key;
  std::optional<std::int64_t> lease_s;
  std::uint32_t limit = 1;
  std::optional<std::int64_t> lock_delay_s;  ///< as in Acquire
};

/// Two-phase acquisition, phase 2: wait for the grant of an earlier Enqueue.
struct Wait {
  Namespace ns = Namespace::kLock;
  std::string key;
  std::int64_t timeout_s = 0;
};

/// The token a release or renew names, parsed where the request is decoded: empty
/// when the client's text was not a token (the engine answers kInvalid).
using TokenArg = std::optional<Token>;

struct Release {
  Namespace ns = Namespace::kLock;
  std::string key;
  TokenArg token;
};

struct Renew {
  Namespace ns = Namespace::kLock;
  std::string key;
  TokenArg token;
  std::optional<std::int64_t> lease_s;
};

/// Subscribe the session to a subject pattern, optionally as a queue-group member.
struct Listen {
  std::string pattern;
  std::string group;  ///< empty: plain subscription
};

struct Unlisten {
  std::string pattern;
  std::string group;
};

/// Publish a signal on a concrete channel (no wildcards).
struct Publish {
  std::string channel;
  std::string payload;
};

struct Ping {};
struct Stats {
  /// Sharded mode: every shard's view merged, with each shard's state. (A single
  /// server is the whole cluster: it answers with its own view.)
  bool cluster = false;
};

using Command = std::variant<Acquire, Enqueue, Wait, Release, Renew, Listen, Unlisten, Publish,
                             Ping, Stats>;

}  // namespace dflockd::core
