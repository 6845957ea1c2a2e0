// The operator dashboard served at /ui: one self-contained HTML page (CSS and JS
// inline) that reads the watch stream over the WebSocket, /v1/stats and /metrics.
#pragma once

#include <string_view>

namespace dflockd::http {

std::string_view DashboardHtml();

}  // namespace dflockd::http
