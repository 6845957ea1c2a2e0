// The fence high-water mark on disk (--fence-state-file).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/token_source.h"

namespace dflockd::app {

class FenceFile final : public core::FenceStore {
 public:
  explicit FenceFile(std::string path) : path_(std::move(path)) {}

  /// The stored mark; 0 if the file does not exist; nullopt if it is unreadable or
  /// corrupt (refuse to start rather than risk reissuing a fence).
  std::optional<std::uint64_t> Load() const;
  /// Writes atomically (temp file, fsync, rename) before any fence below is issued.
  bool Reserve(std::uint64_t limit) override;

 private:
  std::string path_;
};

}  // namespace dflockd::app
