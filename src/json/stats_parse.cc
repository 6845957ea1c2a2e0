#include "json/stats_parse.h"

#include <boost/json.hpp>

namespace dflockd::json {
namespace {

namespace bj = boost::json;

std::uint64_t Uint(const bj::object& o, std::string_view name) {
  const bj::value* v = o.if_contains(name);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

double Double(const bj::object& o, std::string_view name) {
  const bj::value* v = o.if_contains(name);
  if (v == nullptr) return 0;
  if (v->is_double()) return v->as_double();
  if (v->is_int64()) return static_cast<double>(v->as_int64());
  if (v->is_uint64()) return static_cast<double>(v->as_uint64());
  return 0;
}

std::string String(const bj::object& o, std::string_view name) {
  const bj::value* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

template <typename F>
void Each(const bj::object& o, std::string_view name, F f) {
  const bj::value* v = o.if_contains(name);
  if (v == nullptr || !v->is_array()) return;
  for (const bj::value& item : v->as_array()) {
    if (item.is_object()) f(item.as_object());
  }
}

}  // namespace

std::optional<core::StatsSnapshot> ParseStatsJson(std::string_view text) {
  bj::error_code ec;
  bj::value root = bj::parse(bj::string_view(text.data(), text.size()), ec);
  if (ec || !root.is_object()) return std::nullopt;
  const bj::object& o = root.as_object();
  if (!o.contains("connections") || !o.contains("locks")) return std::nullopt;
  using Snap = core::StatsSnapshot;
  Snap s;
  s.connections = Uint(o, "connections");
  Each(o, "locks", [&](const bj::object& l) {
    s.locks.push_back(Snap::Lock{String(l, "key"), Uint(l, "owner_conn_id"),
                                 Double(l, "lease_expires_in_s"), Uint(l, "waiters"),
                                 Double(l, "lock_delay_remaining_s")});
  });
  Each(o, "semaphores", [&](const bj::object& m) {
    s.semaphores.push_back(Snap::Semaphore{String(m, "key"),
                                           static_cast<std::uint32_t>(Uint(m, "limit")),
                                           Uint(m, "holders"), Uint(m, "waiters"),
                                           Uint(m, "delayed"), Double(m, "lock_delay_remaining_s")});
  });
  Each(o, "idle_locks", [&](const bj::object& i) {
    s.idle_locks.push_back(Snap::Idle{String(i, "key"), Double(i, "idle_s")});
  });
  Each(o, "idle_semaphores", [&](const bj::object& i) {
    s.idle_semaphores.push_back(Snap::Idle{String(i, "key"), Double(i, "idle_s")});
  });
  Each(o, "signal_channels", [&](const bj::object& c) {
    s.signal_channels.push_back(
        Snap::Channel{String(c, "pattern"), String(c, "group"), Uint(c, "listeners")});
  });
  s.keys_in_lock_delay = Uint(o, "keys_in_lock_delay");
  s.restart_grace_remaining_s = Double(o, "restart_grace_remaining_s");
  const bj::value* fences = o.if_contains("fences_unavailable");
  s.fences_unavailable = fences != nullptr && fences->is_bool() && fences->as_bool();
  return s;
}

}  // namespace dflockd::json
