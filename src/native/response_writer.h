// Core results → native response lines (§3). The one place the native adapter turns
// replies and error codes into bytes. Pure.
#pragma once

#include <string>
#include <string_view>

#include "core/reply.h"
#include "core/status.h"

namespace dflockd::native {

/// Which error words a connection gets.
enum class Vocabulary {
  kClient,  ///< the protocol's (§3): several causes share `error`
  /// Sharded mode, connections from other shards only: one word per error code
  /// (`error_not_held`, `error_unavailable`, …), so a forwarded reply maps back to the
  /// exact code and every transport answers as if the key were local.
  kPeer,
};

/// The status word for an error code (`error`, `timeout`, `error_max_locks`, …).
std::string_view StatusFor(core::ErrorCode code, Vocabulary vocabulary = Vocabulary::kClient);

/// Appends one response line, `\n` included. `enqueue`: a grant reads `acquired`.
void AppendResponse(std::string& out, const core::Result<core::Reply>& result, bool enqueue,
                    Vocabulary vocabulary = Vocabulary::kClient);

/// Appends a push frame `sig <channel> <payload>\n`.
void AppendPush(std::string& out, std::string_view channel, std::string_view payload);

}  // namespace dflockd::native
