// `dflockctl emit` and `dflockctl listen`.
#pragma once

#include <string>

#include "common.h"

namespace dflockctl {

/// Publishes to every server given; prints the total number of deliveries.
int Emit(const GlobalOptions& global, const std::string& channel, const std::string& payload);
/// Prints `<channel> <payload>` per signal from every server until ^C (or `count`).
int Listen(const GlobalOptions& global, const std::string& pattern, const std::string& group,
           long long count);

}  // namespace dflockctl
