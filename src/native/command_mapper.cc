#include "native/command_mapper.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "core/decimal.h"

namespace dflockd::native {
namespace {

using core::Namespace;

/// Up to kMaxFields fields of a line split on runs of spaces and tabs.
struct Fields {
  static constexpr std::size_t kMaxFields = 4;
  std::array<std::string_view, kMaxFields> items;
  std::size_t count = 0;  ///< may exceed kMaxFields: then only the first are kept
};

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

Fields Split(std::string_view line) {
  Fields f;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && IsBlank(line[i])) ++i;
    if (i == line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !IsBlank(line[i])) ++i;
    if (f.count < Fields::kMaxFields) f.items[f.count] = line.substr(start, i - start);
    ++f.count;
  }
  return f;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

/// `limit` as uint32, saturating huge values so validation rejects them.
std::optional<std::uint32_t> ParseLimit(std::string_view s) {
  auto v = core::ParseDecimal(s);
  if (!v) return std::nullopt;
  return *v > UINT32_MAX ? UINT32_MAX : static_cast<std::uint32_t>(*v);
}

MappedRequest Invalid() { return MappedRequest{}; }

MappedRequest Make(core::Command command, bool enqueue = false) {
  MappedRequest m;
  m.kind = RequestKind::kCommand;
  m.command = std::move(command);
  m.enqueue = enqueue;
  return m;
}

// l: <timeout> [<lease>]   sl: <timeout> <limit> [<lease>]
MappedRequest MapAcquire(Namespace ns, std::string_view key, const Fields& f) {
  const std::size_t base = ns == Namespace::kLock ? 1 : 2;
  if (f.count < base || f.count > base + 1) return Invalid();
  core::Acquire c;
  c.ns = ns;
  c.key = std::string(key);
  auto timeout = core::ParseDecimal(f.items[0]);
  if (!timeout) return Invalid();
  c.timeout_s = *timeout;
  if (ns == Namespace::kSemaphore) {
    auto limit = ParseLimit(f.items[1]);
    if (!limit) return Invalid();
    c.limit = *limit;
  }
  if (f.count == base + 1) {
    c.lease_s = core::ParseDecimal(f.items[base]);
    if (!c.lease_s) return Invalid();
  }
  return Make(std::move(c));
}

// e: [<lease>]   se: <limit> [<lease>]
MappedRequest MapEnqueue(Namespace ns, std::string_view key, const Fields& f) {
  const std::size_t base = ns == Namespace::kLock ? 0 : 1;
  if (f.count < base || f.count > base + 1) return Invalid();
  core::Enqueue c;
  c.ns = ns;
  c.key = std::string(key);
  if (ns == Namespace::kSemaphore) {
    auto limit = ParseLimit(f.items[0]);
    if (!limit) return Invalid();
    c.limit = *limit;
  }
  if (f.count == base + 1) {
    c.lease_s = core::ParseDecimal(f.items[base]);
    if (!c.lease_s) return Invalid();
  }
  return Make(std::move(c), /*enqueue=*/true);
}

MappedRequest MapWait(Namespace ns, std::string_view key, const Fields& f) {
  if (f.count != 1) return Invalid();
  auto timeout = core::ParseDecimal(f.items[0]);
  if (!timeout) return Invalid();
  return Make(core::Wait{ns, std::string(key), *timeout});
}

MappedRequest MapRelease(Namespace ns, std::string_view key, const Fields& f) {
  if (f.count != 1) return Invalid();
  return Make(core::Release{ns, std::string(key), core::ParseToken(f.items[0])});
}

MappedRequest MapRenew(Namespace ns, std::string_view key, const Fields& f) {
  if (f.count < 1 || f.count > 2) return Invalid();
  core::Renew c;
  c.ns = ns;
  c.key = std::string(key);
  c.token = core::ParseToken(f.items[0]);
  if (f.count == 2) {
    c.lease_s = core::ParseDecimal(f.items[1]);
    if (!c.lease_s) return Invalid();
  }
  return Make(std::move(c));
}

template <typename T>
MappedRequest MapSubscription(std::string_view pattern, const Fields& f) {
  if (f.count > 1) return Invalid();
  return Make(T{std::string(pattern), f.count == 1 ? std::string(f.items[0]) : std::string()});
}

/// Removes a trailing `delay=<n>` field (peer connections only).
bool TakeLockDelay(Fields& f, std::optional<std::int64_t>& delay) {
  if (f.count == 0 || f.count > Fields::kMaxFields) return true;
  std::string_view last = f.items[f.count - 1];
  constexpr std::string_view kPrefix = "delay=";
  if (last.substr(0, kPrefix.size()) != kPrefix) return true;
  delay = core::ParseDecimal(last.substr(kPrefix.size()));
  --f.count;
  return delay.has_value();
}

MappedRequest MapPeerHello(const RawRequest& r) {
  const std::string_view mode = Trim(r.arg);
  const auto shard = core::ParseDecimal(r.key);
  if ((mode != "session" && mode != "detached") || !shard || *shard > 65535) return Invalid();
  MappedRequest m;
  m.kind = RequestKind::kPeer;
  m.peer_detached = mode == "detached";
  m.peer_shard = static_cast<std::size_t>(*shard);
  return m;
}

}  // namespace

MappedRequest MapRequest(const RawRequest& r, bool peer) {
  const std::string_view cmd = r.command;
  if (cmd == "signal") return Make(core::Publish{std::string(r.key), std::string(r.arg)});
  if (cmd == "auth") {
    MappedRequest m;
    m.kind = RequestKind::kAuth;
    m.auth_token = Trim(r.arg);
    return m;
  }
  if (cmd == "ping") return Make(core::Ping{});
  if (cmd == "stats") return Make(core::Stats{});
  if (cmd == "peer") return MapPeerHello(r);
  if (cmd == "topology") {
    MappedRequest m;
    m.kind = RequestKind::kTopology;
    return m;
  }

  Fields f = Split(r.arg);
  if (peer && (cmd == "l" || cmd == "sl" || cmd == "e" || cmd == "se")) {
    std::optional<std::int64_t> delay;
    if (!TakeLockDelay(f, delay)) return Invalid();
    MappedRequest m = cmd == "l"    ? MapAcquire(Namespace::kLock, r.key, f)
        : cmd == "sl" ? MapAcquire(Namespace::kSemaphore, r.key, f)
        : cmd == "e"  ? MapEnqueue(Namespace::kLock, r.key, f)
                      : MapEnqueue(Namespace::kSemaphore, r.key, f);
    if (m.kind == RequestKind::kCommand) {
      std::visit([&](auto& c) {
        if constexpr (requires { c.lock_delay_s; }) c.lock_delay_s = delay;
      }, m.command);
    }
    return m;
  }
  if (cmd == "l") return MapAcquire(Namespace::kLock, r.key, f);
  if (cmd == "r") return MapRelease(Namespace::kLock, r.key, f);
  if (cmd == "n") return MapRenew(Namespace::kLock, r.key, f);
  if (cmd == "e") return MapEnqueue(Namespace::kLock, r.key, f);
  if (cmd == "w") return MapWait(Namespace::kLock, r.key, f);
  if (cmd == "sl") return MapAcquire(Namespace::kSemaphore, r.key, f);
  if (cmd == "sr") return MapRelease(Namespace::kSemaphore, r.key, f);
  if (cmd == "sn") return MapRenew(Namespace::kSemaphore, r.key, f);
  if (cmd == "se") return MapEnqueue(Namespace::kSemaphore, r.key, f);
  if (cmd == "sw") return MapWait(Namespace::kSemaphore, r.key, f);
  if (cmd == "listen") return MapSubscription<core::Listen>(r.key, f);
  if (cmd == "unlisten") return MapSubscription<core::Unlisten>(r.key, f);
  return Invalid();
}

}  // namespace dflockd::native
