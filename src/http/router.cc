#include "http/router.h"

#include <algorithm>

namespace dflockd::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Route Only(std::string_view method, const char* wanted, Route route) {
  if (method == wanted) return route;
  return Route{Endpoint::kMethodNotAllowed, route.ns, {}, wanted};
}

Route Fixed(Endpoint e) { return Route{e, core::Namespace::kLock, {}, ""}; }

}  // namespace

bool PercentDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexValue(in[i + 1]);
    int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

Route MatchRoute(std::string_view method, std::string_view target) {
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz") return Only(method, "GET", Fixed(Endpoint::kHealthz));
  if (path == "/readyz") return Only(method, "GET", Fixed(Endpoint::kReadyz));
  if (path == "/metrics") return Only(method, "GET", Fixed(Endpoint::kMetrics));
  if (path == "/v1/stats") {
    Route stats = Fixed(Endpoint::kStats);
    std::string_view query = path.size() < target.size() ? target.substr(path.size() + 1) : "";
    // One parameter; `scope=shard` (the default) is this shard only.
    for (std::string_view rest = query; !rest.empty();) {
      std::string_view param = rest.substr(0, rest.find('&'));
      if (param == "scope=cluster") stats.cluster_scope = true;
      rest.remove_prefix(std::min(rest.size(), param.size() + 1));
    }
    return Only(method, "GET", std::move(stats));
  }
  if (path == "/ui" || path == "/ui/") return Only(method, "GET", Fixed(Endpoint::kUi));
  if (path == "/v1/topology") return Only(method, "GET", Fixed(Endpoint::kTopology));
  if (path == "/v1/cluster") return Only(method, "GET", Fixed(Endpoint::kCluster));
  if (path == "/v1/ws") return Only(method, "GET", Fixed(Endpoint::kWebSocket));

  Route route;
  constexpr std::string_view kSignals = "/v1/signals/";
  if (path.substr(0, kSignals.size()) == kSignals) {
    if (!PercentDecode(path.substr(kSignals.size()), route.key)) return Fixed(Endpoint::kNotFound);
    route.endpoint = Endpoint::kPublish;
    return Only(method, "POST", std::move(route));
  }
  constexpr std::string_view kLocks = "/v1/locks/";
  constexpr std::string_view kSemaphores = "/v1/semaphores/";
  std::string_view rest;
  if (path.substr(0, kLocks.size()) == kLocks) {
    rest = path.substr(kLocks.size());
  } else if (path.substr(0, kSemaphores.size()) == kSemaphores) {
    rest = path.substr(kSemaphores.size());
    route.ns = core::Namespace::kSemaphore;
  } else {
    return Fixed(Endpoint::kNotFound);
  }
  auto slash = rest.rfind('/');
  if (slash == std::string_view::npos) return Fixed(Endpoint::kNotFound);
  std::string_view action = rest.substr(slash + 1);
  if (action == "acquire") {
    route.endpoint = Endpoint::kAcquire;
  } else if (action == "release") {
    route.endpoint = Endpoint::kRelease;
  } else if (action == "renew") {
    route.endpoint = Endpoint::kRenew;
  } else if (action == "enqueue") {
    route.endpoint = Endpoint::kEnqueue;
  } else if (action == "wait") {
    route.endpoint = Endpoint::kWait;
  } else {
    return Fixed(Endpoint::kNotFound);
  }
  if (!PercentDecode(rest.substr(0, slash), route.key)) return Fixed(Endpoint::kNotFound);
  return Only(method, "POST", std::move(route));
}

}  // namespace dflockd::http
