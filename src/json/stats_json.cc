#include "json/stats_json.h"

#include "core/utf8.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string_view>

namespace dflockd::json {
namespace {

// Written by hand rather than with a JSON library: the key order is part of the
// wire contract and the output is one small, fixed shape.

/// Appends `s` as a JSON string. Keys are arbitrary bytes; invalid UTF-8 becomes
/// U+FFFD so the line is always valid JSON.
void AppendString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  // Most keys are plain printable ASCII: one append, no per-byte work.
  bool plain = true;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out.append(s);
    out.push_back('"');
    return;
  }
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20 || c == 0x7f) {
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
      } else {
        out.push_back(static_cast<char>(c));
      }
      ++i;
      continue;
    }
    std::size_t len = core::Utf8SequenceLength(s, i);
    bool valid = len != 0;
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append("\\ufffd");
      ++i;
    }
  }
  out.push_back('"');
}

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

/// Seconds with one decimal, as the reference server reports them.
void AppendSeconds(std::string& out, double v) {
  if (!std::isfinite(v) || v < 0) v = 0;
  // Rounding multiplies by 10: keep that finite (found by fuzz_response_writer; a
  // lease is at most ~9.2e9 s, so this never clips a real value).
  constexpr double kMax = 1e15;
  if (v > kMax) v = kMax;
  char buf[48];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, std::round(v * 10) / 10,
                                 std::chars_format::fixed, 1);
  out.append(buf, end);
}

void Key(std::string& out, std::string_view name) {
  out.push_back('"');
  out.append(name);
  out.append("\":");
}

template <typename T, typename F>
void AppendArray(std::string& out, std::string_view name, const std::vector<T>& items, F each) {
  Key(out, name);
  out.push_back('[');
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i != 0) out.push_back(',');
    out.push_back('{');
    each(items[i]);
    out.push_back('}');
  }
  out.push_back(']');
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) { AppendString(out, s); }

void AppendStatsJson(std::string& out, const core::StatsSnapshot& s) {
  using Snap = core::StatsSnapshot;
  out.push_back('{');
  Key(out, "connections");
  AppendUint(out, s.connections);
  out.push_back(',');
  AppendArray(out, "locks", s.locks, [&](const Snap::Lock& l) {
    Key(out, "key");
    AppendString(out, l.key);
    out.push_back(',');
    Key(out, "owner_conn_id");
    AppendUint(out, l.owner_session);
    out.push_back(',');
    Key(out, "lease_expires_in_s");
    AppendSeconds(out, l.lease_expires_in_s);
    out.push_back(',');
    Key(out, "waiters");
    AppendUint(out, l.waiters);
    if (l.lock_delay_remaining_s > 0) {  // only while lock-delay applies: no change otherwise
      out.push_back(',');
      Key(out, "lock_delay_remaining_s");
      AppendSeconds(out, l.lock_delay_remaining_s);
    }
  });
  out.push_back(',');
  AppendArray(out, "semaphores", s.semaphores, [&](const Snap::Semaphore& m) {
    Key(out, "key");
    AppendString(out, m.key);
    out.push_back(',');
    Key(out, "limit");
    AppendUint(out, m.limit);
    out.push_back(',');
    Key(out, "holders");
    AppendUint(out, m.holders);
    out.push_back(',');
    Key(out, "waiters");
    AppendUint(out, m.waiters);
    if (m.delayed != 0) {
      out.push_back(',');
      Key(out, "delayed");
      AppendUint(out, m.delayed);
      out.push_back(',');
      Key(out, "lock_delay_remaining_s");
      AppendSeconds(out, m.lock_delay_remaining_s);
    }
  });
  auto idle = [&](const Snap::Idle& i) {
    Key(out, "key");
    AppendString(out, i.key);
    out.push_back(',');
    Key(out, "idle_s");
    AppendSeconds(out, i.idle_s);
  };
  out.push_back(',');
  AppendArray(out, "idle_locks", s.idle_locks, idle);
  out.push_back(',');
  AppendArray(out, "idle_semaphores", s.idle_semaphores, idle);
  out.push_back(',');
  AppendArray(out, "signal_channels", s.signal_channels, [&](const Snap::Channel& c) {
    Key(out, "pattern");
    AppendString(out, c.pattern);
    if (!c.group.empty()) {
      out.push_back(',');
      Key(out, "group");
      AppendString(out, c.group);
    }
    out.push_back(',');
    Key(out, "listeners");
    AppendUint(out, c.listeners);
  });
  // Safety state, only while it applies, so the line is unchanged otherwise.
  if (s.keys_in_lock_delay != 0) {
    out.push_back(',');
    Key(out, "keys_in_lock_delay");
    AppendUint(out, s.keys_in_lock_delay);
  }
  if (s.restart_grace_remaining_s > 0) {
    out.push_back(',');
    Key(out, "restart_grace_remaining_s");
    AppendSeconds(out, s.restart_grace_remaining_s);
  }
  if (s.fences_unavailable) {
    out.push_back(',');
    Key(out, "fences_unavailable");
    out.append("true");
  }
  if (!s.shards.empty()) {  // cluster scope only
    out.push_back(',');
    AppendArray(out, "shards", s.shards, [&](const Snap::Shard& shard) {
      Key(out, "address");
      AppendString(out, shard.address);
      out.push_back(',');
      Key(out, "reachable");
      out.append(shard.reachable ? "true" : "false");
      if (!shard.error.empty()) {
        out.push_back(',');
        Key(out, "error");
        AppendString(out, shard.error);
      }
    });
  }
  if (s.replication) {
    out.append(",\"cluster\":");
    AppendReplicationJson(out, *s.replication);
  }
  out.push_back('}');
}

void AppendReplicationJson(std::string& out, const core::StatsSnapshot::Replication& r) {
  out.append("{\"mode\":\"durable\",");
  Key(out, "role");
  AppendString(out, r.role);
  out.push_back(',');
  Key(out, "leader");
  AppendString(out, r.leader);
  out.push_back(',');
  Key(out, "term");
  AppendUint(out, static_cast<std::uint64_t>(r.term));
  out.push_back(',');
  Key(out, "committed_revision");
  AppendUint(out, static_cast<std::uint64_t>(r.committed_revision));
  out.append(",\"etcd\":{");
  Key(out, "endpoint");
  AppendString(out, r.store);
  out.push_back(',');
  Key(out, "healthy");
  out.append(r.store_healthy ? "true" : "false");
  out.append("}}");
}

}  // namespace dflockd::json
