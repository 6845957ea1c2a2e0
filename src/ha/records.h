// How holds and lock-delays are stored in etcd, under the shard's prefix:
//   <prefix>/h/<token>  "1 <l|s> <limit> <lease_s> <lock_delay_s> <expires_unix_ms> <key>"
//   <prefix>/d/<token>  "1 <l|s> <limit> <delay_s> <until_unix_ms> <key>"
// (the token is the hold's 32 hex digits; the key comes last, so it may hold spaces).
// A record is deleted when its hold or delay ends, so the prefix holds only live state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/command.h"
#include "core/token_source.h"

namespace dflockd::ha {

struct StoredHold {
  core::Namespace ns = core::Namespace::kLock;
  std::string key;
  std::uint32_t limit = 1;
  core::Token token;
  std::int64_t lease_s = 0;
  std::int64_t lock_delay_s = 0;
  std::int64_t expires_unix_ms = 0;  ///< informational: a new leader restarts the lease
};

struct StoredDelay {
  core::Namespace ns = core::Namespace::kLock;
  std::string key;
  std::uint32_t limit = 1;
  core::Token token;
  std::int64_t delay_s = 0;
  std::int64_t until_unix_ms = 0;
};

std::string HoldKey(std::string_view prefix, const core::Token& token);
std::string DelayKey(std::string_view prefix, const core::Token& token);
/// The first key after every `<prefix>/h/…` (or `/d/…`) key: a Range's range_end.
std::string HoldRangeEnd(std::string_view prefix);
std::string DelayRangeEnd(std::string_view prefix);

std::string EncodeHold(const StoredHold& hold);
std::string EncodeDelay(const StoredDelay& delay);
/// Nullopt for anything malformed (`etcd_key` is the record's key, for the token).
std::optional<StoredHold> DecodeHold(std::string_view prefix, std::string_view etcd_key,
                                     std::string_view value);
std::optional<StoredDelay> DecodeDelay(std::string_view prefix, std::string_view etcd_key,
                                       std::string_view value);

}  // namespace dflockd::ha
