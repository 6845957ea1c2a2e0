// The stats snapshot as the native protocol's one-line JSON (§6): fixed key order,
// arrays never null, compact.
#pragma once

#include <string>
#include <string_view>

#include "core/reply.h"

namespace dflockd::json {

void AppendStatsJson(std::string& out, const core::StatsSnapshot& stats);
/// Durable mode's view of a replica: `{"mode":"durable","role":…,"etcd":{…}}`.
void AppendReplicationJson(std::string& out, const core::StatsSnapshot::Replication& r);

/// `s` as a JSON string (invalid UTF-8 becomes U+FFFD, so the output is valid JSON).
void AppendJsonString(std::string& out, std::string_view s);

}  // namespace dflockd::json
