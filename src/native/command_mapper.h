// Native request lines → core command objects (§3). Pure.
#pragma once

#include <string_view>

#include "core/command.h"
#include "native/request_parser.h"

namespace dflockd::native {

enum class RequestKind {
  kCommand,  ///< `command` is set
  kAuth,     ///< `auth_token` is the trimmed arg line
  // Sharded mode only (a single server answers both with `error`, as any unknown
  // command): `peer\n<from-shard>\n<session|detached>\n` marks a connection from
  // another shard, `topology\n_\n_\n` asks for the shard list.
  kPeer,      ///< `peer_detached` says which kind
  kTopology,
  kInvalid,  ///< answer `error`, keep the connection
};

struct MappedRequest {
  RequestKind kind = RequestKind::kInvalid;
  core::Command command;
  std::string_view auth_token;
  bool enqueue = false;  ///< the reply to a grant is `acquired`, not `ok`
  bool peer_detached = false;
  std::size_t peer_shard = 0;  ///< `peer`: the index of the shard the connection comes from
};

/// Splits the arg line into fields and parses numbers. Range checks on values are
/// the engine's (core/validation.h), shared with every other transport.
/// `peer`: the connection comes from another shard, whose acquires may carry a last
/// field `delay=<seconds>` (the hold's lock-delay, which the protocol cannot express).
MappedRequest MapRequest(const RawRequest& request, bool peer = false);

}  // namespace dflockd::native
