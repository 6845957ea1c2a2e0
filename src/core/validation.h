// Argument rules shared by every transport (§2 of the protocol), checked once in
// the engine so no adapter can let a bad value through.
#pragma once

#include <cstdint>

#include "core/command.h"

namespace dflockd::core {

inline constexpr std::int64_t kMaxTimeoutS = 9223372036;
inline constexpr std::int64_t kMaxLeaseS = 9223372036;
inline constexpr std::uint32_t kMaxLimit = 1048576;

/// True if every field of `command` is within the protocol's ranges. Subject and
/// payload rules of signals are checked by the signal code itself.
bool IsValid(const Command& command);

}  // namespace dflockd::core
