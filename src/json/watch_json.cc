#include "json/watch_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "json/stats_json.h"

namespace dflockd::json {
namespace {

using Kind = core::WatchEvent::Kind;

void Field(std::string& out, std::string_view name) {
  out += ",\"";
  out += name;
  out += "\":";
}

template <typename Number>
void Int(std::string& out, std::string_view name, Number v) {
  Field(out, name);
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

/// Seconds with millisecond precision, without floating-point formatting (a watched
/// server formats one of these per event).
void Seconds(std::string& out, std::string_view name, double v) {
  Field(out, name);
  if (!std::isfinite(v) || v < 0) v = 0;
  const auto ms = static_cast<std::int64_t>(std::llround(std::min(v, 1e15) * 1000));
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, ms / 1000);
  out.append(buf, end);
  const auto frac = static_cast<int>(ms % 1000);
  out += '.';
  out += static_cast<char>('0' + frac / 100);
  out += static_cast<char>('0' + frac / 10 % 10);
  out += static_cast<char>('0' + frac % 10);
}

void Text(std::string& out, std::string_view name, std::string_view v) {
  Field(out, name);
  AppendJsonString(out, v);
}

}  // namespace

void AppendWatchEventJson(std::string& out, const core::WatchEvent& e) {
  // Compact: a busy server sends hundreds of thousands of these a second, so what
  // can be implied is left out (a lock's limit, a fresh grant's remaining lease).
  out += R"({"event":")";
  out += core::ToString(e.kind);
  out += '"';
  if (e.kind == Kind::kSnapshotDone) {
    out += '}';
    return;
  }
  Text(out, "kind", e.ns == core::Namespace::kLock ? "lock" : "semaphore");
  Text(out, "key", e.key);
  if (e.ns == core::Namespace::kSemaphore) Int(out, "limit", e.limit);
  switch (e.kind) {
    case Kind::kHeld:
    case Kind::kGranted:
    case Kind::kReleased:
      // A string, as in every other fence field: 64-bit values exceed JS numbers.
      Field(out, "fence");
      {
        char buf[24];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, e.fence);
        out += '"';
        out.append(buf, end);
        out += '"';
      }
      Int(out, "lease_ttl_s", e.lease_s);
      if (e.kind != Kind::kGranted) Seconds(out, "remaining_s", e.remaining_s);
      break;
    case Kind::kWaiting:
    case Kind::kQueued:
    case Kind::kLeft:
      Int(out, "waiter", e.waiter);
      Seconds(out, "waited_s", e.waited_s);
      break;
    case Kind::kDelayed:
    case Kind::kDelayStarted:
    case Kind::kDelayEnded:
      Int(out, "count", e.count);
      Seconds(out, "remaining_s", e.remaining_s);
      break;
    case Kind::kSnapshotDone:
      break;
  }
  if (e.kind != Kind::kDelayed && e.kind != Kind::kDelayStarted && e.kind != Kind::kDelayEnded) {
    Int(out, "session", e.session);
    if (e.info != nullptr && !e.info->transport.empty()) Text(out, "transport", e.info->transport);
    if (e.info != nullptr && !e.info->remote.empty()) Text(out, "remote", e.info->remote);
  }
  if (!e.reason.empty()) Text(out, "reason", e.reason);
  out += '}';
}

}  // namespace dflockd::json
