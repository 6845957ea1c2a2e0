#include "ha/records.h"

#include <charconv>
#include <vector>

namespace dflockd::ha {
namespace {

std::string Key(std::string_view prefix, char kind, const core::Token& token) {
  std::string k(prefix);
  k += '/';
  k += kind;
  k += '/';
  k += core::FormatToken(token);
  return k;
}

std::string RangeEnd(std::string_view prefix, char kind) {
  std::string k(prefix);
  k += '/';
  k += kind;
  k += static_cast<char>('/' + 1);
  return k;
}

char NsTag(core::Namespace ns) { return ns == core::Namespace::kLock ? 'l' : 's'; }

/// Splits the first `n` space-separated fields off `value`; the rest (the key) after
/// the n-th space, which may itself contain spaces.
bool Split(std::string_view value, std::size_t n, std::vector<std::string_view>& fields,
           std::string_view& rest) {
  fields.clear();
  for (std::size_t i = 0; i < n; ++i) {
    const auto space = value.find(' ');
    if (space == std::string_view::npos) return false;
    fields.push_back(value.substr(0, space));
    value.remove_prefix(space + 1);
  }
  rest = value;
  return !rest.empty();
}

template <typename T>
bool Number(std::string_view s, T& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::optional<core::Namespace> Ns(std::string_view tag) {
  if (tag == "l") return core::Namespace::kLock;
  if (tag == "s") return core::Namespace::kSemaphore;
  return std::nullopt;
}

std::optional<core::Token> TokenAfter(std::string_view prefix, char kind, std::string_view key) {
  const std::string head = std::string(prefix) + '/' + kind + '/';
  if (key.substr(0, head.size()) != head) return std::nullopt;
  return core::ParseToken(key.substr(head.size()));
}

}  // namespace

std::string HoldKey(std::string_view prefix, const core::Token& token) { return Key(prefix, 'h', token); }
std::string DelayKey(std::string_view prefix, const core::Token& token) { return Key(prefix, 'd', token); }
std::string HoldRangeEnd(std::string_view prefix) { return RangeEnd(prefix, 'h'); }
std::string DelayRangeEnd(std::string_view prefix) { return RangeEnd(prefix, 'd'); }

std::string EncodeHold(const StoredHold& h) {
  std::string v = "1 ";
  v += NsTag(h.ns);
  v += ' ' + std::to_string(h.limit) + ' ' + std::to_string(h.lease_s) + ' ' +
       std::to_string(h.lock_delay_s) + ' ' + std::to_string(h.expires_unix_ms) + ' ';
  v += h.key;
  return v;
}

std::string EncodeDelay(const StoredDelay& d) {
  std::string v = "1 ";
  v += NsTag(d.ns);
  v += ' ' + std::to_string(d.limit) + ' ' + std::to_string(d.delay_s) + ' ' +
       std::to_string(d.until_unix_ms) + ' ';
  v += d.key;
  return v;
}

std::optional<StoredHold> DecodeHold(std::string_view prefix, std::string_view etcd_key,
                                     std::string_view value) {
  std::vector<std::string_view> f;
  std::string_view key;
  if (!Split(value, 6, f, key) || f[0] != "1") return std::nullopt;
  StoredHold h;
  auto ns = Ns(f[1]);
  auto token = TokenAfter(prefix, 'h', etcd_key);
  if (!ns || !token || !Number(f[2], h.limit) || h.limit == 0 || !Number(f[3], h.lease_s) ||
      h.lease_s <= 0 || !Number(f[4], h.lock_delay_s) || h.lock_delay_s < 0 ||
      !Number(f[5], h.expires_unix_ms)) {
    return std::nullopt;
  }
  h.ns = *ns;
  h.token = *token;
  h.key = std::string(key);
  return h;
}

std::optional<StoredDelay> DecodeDelay(std::string_view prefix, std::string_view etcd_key,
                                       std::string_view value) {
  std::vector<std::string_view> f;
  std::string_view key;
  if (!Split(value, 5, f, key) || f[0] != "1") return std::nullopt;
  StoredDelay d;
  auto ns = Ns(f[1]);
  auto token = TokenAfter(prefix, 'd', etcd_key);
  if (!ns || !token || !Number(f[2], d.limit) || d.limit == 0 || !Number(f[3], d.delay_s) ||
      d.delay_s < 0 || !Number(f[4], d.until_unix_ms)) {
    return std::nullopt;
  }
  d.ns = *ns;
  d.token = *token;
  d.key = std::string(key);
  return d;
}

}  // namespace dflockd::ha
