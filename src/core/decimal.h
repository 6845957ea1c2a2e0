// Unsigned decimal fields of the wire formats (timeouts, leases, limits, counts).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dflockd::core {

/// Decimal digits only (no sign, no spaces); nothing on an empty field or one that
/// does not fit int64. Ranges are for validation to check.
inline std::optional<std::int64_t> ParseDecimal(std::string_view s) {
  if (s.empty() || s.front() == '-') return std::nullopt;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace dflockd::core
