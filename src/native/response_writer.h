// Core results → native response lines (§3). The one place the native adapter turns
// replies and error codes into bytes. Pure.
#pragma once

#include <string>
#include <string_view>

#include "core/reply.h"
#include "core/status.h"

namespace dflockd::native {

/// The status word for an error code (`error`, `timeout`, `error_max_locks`, …).
std::string_view StatusFor(core::ErrorCode code);

/// Appends one response line, `\n` included. `enqueue`: a grant reads `acquired`.
void AppendResponse(std::string& out, const core::Result<core::Reply>& result, bool enqueue);

/// Appends a push frame `sig <channel> <payload>\n`.
void AppendPush(std::string& out, std::string_view channel, std::string_view payload);

}  // namespace dflockd::native
