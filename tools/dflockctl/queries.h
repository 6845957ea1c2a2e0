// `dflockctl stats` and `dflockctl ping`.
#pragma once

#include "common.h"

namespace dflockctl {

int PrintStats(const GlobalOptions& global, bool json);
int Ping(const GlobalOptions& global);
/// The shard list, or a note that the server is not sharded.
int PrintTopology(const GlobalOptions& global);

}  // namespace dflockctl
