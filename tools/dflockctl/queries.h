// `dflockctl stats` and `dflockctl ping`.
#pragma once

#include "common.h"

namespace dflockctl {

int PrintStats(const GlobalOptions& global, bool json);
int Ping(const GlobalOptions& global);

}  // namespace dflockctl
