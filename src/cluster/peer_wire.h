// The native protocol between shards: a command forwarded to the shard that owns its
// key, and the owner's reply turned back into the result the engine would have given.
// Pure. Peer connections use the exact error vocabulary (native::Vocabulary::kPeer),
// so nothing is lost in the round trip.
#pragma once

#include <string>
#include <string_view>

#include "core/command.h"
#include "core/reply.h"
#include "core/status.h"

namespace dflockd::cluster {

/// Appends the request lines of `command`, which must pass core::IsValid (so no key,
/// token or pattern can carry a line break). Acquire/Enqueue add `delay=<s>` when the
/// hold has its own lock-delay.
void AppendPeerRequest(std::string& out, const core::Command& command);

/// The first request on a peer connection: `auth` (when a token is set) and `peer`.
void AppendPeerHello(std::string& out, std::string_view auth_token, std::size_t from_shard,
                     bool detached);

/// The reply line (without `\n`) to a request made from `command`. A line that does not
/// fit the command is reported as kUnavailable (the peer is not speaking our protocol).
core::Result<core::Reply> ParsePeerReply(const core::Command& command, std::string_view line);

/// The error code of a status word (`timeout`, `error_not_held`, …); plain `error` is
/// kInvalid.
core::ErrorCode ErrorFromStatus(std::string_view status);

}  // namespace dflockd::cluster
