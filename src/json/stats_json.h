// The stats snapshot as the native protocol's one-line JSON (§6): fixed key order,
// arrays never null, compact.
#pragma once

#include <string>

#include "core/reply.h"

namespace dflockd::json {

void AppendStatsJson(std::string& out, const core::StatsSnapshot& stats);

}  // namespace dflockd::json
