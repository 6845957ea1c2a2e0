// A watch event (core/watch.h) as one compact JSON object, for the WebSocket watch:
// {"event":"granted","kind":"lock","key":"k",...}. Fields that do not apply to the
// event, or that are implied (a lock's limit of 1, a new grant's remaining lease), are
// left out.
#pragma once

#include <string>

#include "core/watch.h"

namespace dflockd::json {

void AppendWatchEventJson(std::string& out, const core::WatchEvent& event);

}  // namespace dflockd::json
