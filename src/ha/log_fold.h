// The part of the durable log not folded into the records yet (durable mode).
//
// A write is one log entry (ha/records.h); folding turns the net effect of the
// committed entries into record puts and deletes, in Txns of at most etcd's
// --max-txn-ops, the last of which also deletes the folded entries. Replaying an
// entry over a state that already has its effect changes nothing (each change sets or
// removes a whole record), so a fold cut short leaves the state right: the entries are
// still there and are replayed again.
//
// Which records exist in etcd is tracked so a delete is sent only for a record that
// was ever written: a grant released before its fold costs no record at all. The set
// may hold keys that are gone (a fold that failed is counted as written), never the
// other way round.
//
// Not thread-safe: the engine's thread owns it.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "ha/records.h"

namespace dflockd::ha {

/// What a new leader found in the store: the records' keys, and the net effect of the
/// log entries earlier terms left (in key order), up to the last one's key.
struct LogTail {
  std::unordered_set<std::string> records;
  std::unordered_map<std::string, std::optional<std::string>> net;
  std::string last_key;  ///< empty: no entries
  std::size_t entries = 0;
};

class LogFold {
 public:
  struct Plan {
    /// Record puts and deletes, each batch one Txn (the last one may be empty).
    std::vector<std::vector<LogChange>> batches;
    /// The last batch also deletes every log key from the log's start up to this one.
    std::string last_log_key;
  };

  void Reset(LogTail tail);
  /// An entry committed; entries come in key order.
  void Committed(const std::string& log_key, std::vector<LogChange> changes);
  /// Committed entries not folded yet (the fold in flight not counted).
  std::size_t entries() const { return entries_; }
  bool folding() const { return folding_; }

  /// Plans the fold of everything committed so far (batches of at most `max_ops`
  /// changes, one op being left for the log delete); nullopt when a fold is in flight
  /// or nothing waits.
  std::optional<Plan> Start(std::size_t max_ops);
  /// The fold's Txns all committed (ok), or not: its entries then wait for the next one.
  void Finished(bool ok);

 private:
  using Net = std::unordered_map<std::string, std::optional<std::string>>;

  std::unordered_set<std::string> records_;
  Net net_;
  std::string last_key_;
  std::size_t entries_ = 0;

  bool folding_ = false;
  Net in_fold_;
  std::string in_fold_last_key_;
  std::size_t in_fold_entries_ = 0;
  std::vector<std::string> in_fold_deletes_;
};

}  // namespace dflockd::ha
