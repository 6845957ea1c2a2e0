// How holds and lock-delays are stored in etcd, under the shard's prefix:
//   <prefix>/h/<token>  "1 <l|s> <limit> <lease_s> <lock_delay_s> <expires_unix_ms> <key>"
//   <prefix>/d/<token>  "1 <l|s> <limit> <delay_s> <until_unix_ms> <key>"
// (the token is the hold's 32 hex digits; the key comes last, so it may hold spaces).
// A record is deleted when its hold or delay ends, so the prefix holds only live state.
//
// Changes reach those records through a log: each write is one key,
//   <prefix>/log/<term:16 hex><id:16 hex>  "dflockd-log 1\n" then, per change,
//   "P <h|d>/<token> <length>\n<record>\n" (a put) or "D <h|d>/<token> 0\n\n" (a delete),
// because etcd's cost is per key and per Txn far more than per byte. The leader folds
// committed log entries into the records later (their net effect, one Txn that also
// deletes the folded entries), so the state is the records with the log entries still
// there replayed over them, in key order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

/// A log entry's key: sorts by term, then by the order the term wrote them.
std::string LogKey(std::string_view prefix, std::int64_t term, std::uint64_t id);
std::string LogRangeStart(std::string_view prefix);
std::string LogRangeEnd(std::string_view prefix);

/// One change of a log entry: `key` is the record's full etcd key.
struct LogChange {
  std::string key;
  std::optional<std::string> value;  ///< nullopt: the record is deleted
};
/// Appends a change to an entry being built (starting it when `entry` is empty).
void AppendLogChange(std::string& entry, std::string_view prefix, std::string_view key,
                     const std::optional<std::string>& value);
/// Nullopt for anything malformed (a record key outside the prefix included).
std::optional<std::vector<LogChange>> DecodeLogEntry(std::string_view prefix, std::string_view value);

std::string EncodeHold(const StoredHold& hold);
std::string EncodeDelay(const StoredDelay& delay);
/// Nullopt for anything malformed (`etcd_key` is the record's key, for the token).
std::optional<StoredHold> DecodeHold(std::string_view prefix, std::string_view etcd_key,
                                     std::string_view value);
std::optional<StoredDelay> DecodeDelay(std::string_view prefix, std::string_view etcd_key,
                                       std::string_view value);

}  // namespace dflockd::ha
