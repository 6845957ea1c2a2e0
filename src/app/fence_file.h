// The fence state on disk (--fence-state-file): the fence high-water mark, and
// whether the last run stopped cleanly (for --restart-grace).
//
// Format: the mark in decimal on the first line; a second line `clean` is written
// only at a clean shutdown. While the server runs the file has no `clean` line, so a
// crash (kill -9, OOM, power loss) leaves it "unclean". Anything else is corrupt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/token_source.h"

namespace dflockd::app {

struct FenceState {
  std::uint64_t mark = 0;  ///< no fence at or above it was issued
  bool exists = false;     ///< false: first start
  bool clean = false;      ///< the last run shut down cleanly
};

class FenceFile final : public core::FenceStore {
 public:
  explicit FenceFile(std::string path) : path_(std::move(path)) {}

  /// The stored state; nullopt if the file is unreadable or corrupt, including a mark
  /// too close to 2^64 to reserve another block (refuse to start rather than risk
  /// fences going backwards).
  std::optional<FenceState> Load() const;
  /// Persists "running, mark = limit" atomically (temp file, fsync, rename, fsync of
  /// the directory) before any fence below `limit` is issued. Logs once when writes
  /// start failing and once when they work again.
  bool Reserve(std::uint64_t limit) override;
  /// At a clean shutdown: persists the mark with the `clean` line.
  bool MarkClean(std::uint64_t limit);
  /// Why the last write failed (strerror), for start-up errors.
  const std::string& last_error() const { return last_error_; }

 private:
  bool Write(const std::string& text);

  std::string path_;
  std::string last_error_;
  bool failing_ = false;
};

}  // namespace dflockd::app
