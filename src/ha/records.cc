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

constexpr std::string_view kLogHeader = "dflockd-log 1\n";

void AppendHex(std::string& out, std::uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xf];
}

}  // namespace

std::string LogKey(std::string_view prefix, std::int64_t term, std::uint64_t id) {
  std::string k = LogRangeStart(prefix);
  AppendHex(k, static_cast<std::uint64_t>(term));
  AppendHex(k, id);
  return k;
}

std::string LogRangeStart(std::string_view prefix) { return std::string(prefix) + "/log/"; }
std::string LogRangeEnd(std::string_view prefix) { return std::string(prefix) + "/log" + static_cast<char>('/' + 1); }

void AppendLogChange(std::string& entry, std::string_view prefix, std::string_view key,
                     const std::optional<std::string>& value) {
  if (entry.empty()) entry = kLogHeader;
  entry += value ? "P " : "D ";
  entry += key.substr(prefix.size() + 1);  // "h/<token>" or "d/<token>"
  entry += ' ';
  entry += std::to_string(value ? value->size() : 0);
  entry += '\n';
  if (value) entry += *value;
  entry += '\n';
}

std::optional<std::vector<LogChange>> DecodeLogEntry(std::string_view prefix, std::string_view value) {
  if (value.substr(0, kLogHeader.size()) != kLogHeader) return std::nullopt;
  value.remove_prefix(kLogHeader.size());
  std::vector<LogChange> changes;
  while (!value.empty()) {
    const auto eol = value.find('\n');
    if (eol == std::string_view::npos || eol < 4 || value[1] != ' ') return std::nullopt;
    const char op = value[0];
    std::string_view head = value.substr(2, eol - 2);
    value.remove_prefix(eol + 1);
    const auto space = head.find(' ');
    std::size_t length = 0;
    if (space == std::string_view::npos || (op != 'P' && op != 'D') ||
        !Number(head.substr(space + 1), length) || length + 1 > value.size() ||
        value[length] != '\n' || (op == 'D' && length != 0)) {
      return std::nullopt;
    }
    const std::string_view suffix = head.substr(0, space);
    if (suffix.size() < 3 || (suffix[0] != 'h' && suffix[0] != 'd') || suffix[1] != '/' ||
        !core::ParseToken(suffix.substr(2))) {
      return std::nullopt;
    }
    LogChange c;
    c.key = std::string(prefix) + '/' + std::string(suffix);
    if (op == 'P') c.value = std::string(value.substr(0, length));
    value.remove_prefix(length + 1);
    changes.push_back(std::move(c));
  }
  return changes;
}

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
