// Native request lines → core command objects (§3). Pure.
#pragma once

#include <string_view>

#include "core/command.h"
#include "native/request_parser.h"

namespace dflockd::native {

enum class RequestKind {
  kCommand,  ///< `command` is set
  kAuth,     ///< `auth_token` is the trimmed arg line
  kInvalid,  ///< answer `error`, keep the connection
};

struct MappedRequest {
  RequestKind kind = RequestKind::kInvalid;
  core::Command command;
  std::string_view auth_token;
  bool enqueue = false;  ///< the reply to a grant is `acquired`, not `ok`
};

/// Splits the arg line into fields and parses numbers. Range checks on values are
/// the engine's (core/validation.h), shared with every other transport.
MappedRequest MapRequest(const RawRequest& request);

}  // namespace dflockd::native
