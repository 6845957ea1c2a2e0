// The stats JSON line (§6) read back into a snapshot: how a shard reads another
// shard's `stats` for the cluster-wide view.
#pragma once

#include <optional>
#include <string_view>

#include "core/reply.h"

namespace dflockd::json {

/// Nothing if `text` is not a stats object.
std::optional<core::StatsSnapshot> ParseStatsJson(std::string_view text);

}  // namespace dflockd::json
