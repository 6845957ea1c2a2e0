// Issues fencing tokens (core/token.h): strictly increasing fences, persisted in
// blocks, each paired with 64 bits from a cryptographically secure random source.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "core/token.h"

namespace dflockd::core {

/// Durable high-water mark for fences, so fences stay monotonic across restarts even
/// if the wall clock goes back. Implemented outside the core (a file in the app).
class FenceStore {
 public:
  virtual ~FenceStore() = default;
  /// Persist "no fence at or above `limit` has been issued". False on I/O failure.
  virtual bool Reserve(std::uint64_t limit) = 0;
};

class TokenSource {
 public:
  /// Fences handed out persist in blocks of this many, so a restart skips at most
  /// one block and the store is written once per block, not once per grant.
  static constexpr std::uint64_t kReserveBlock = 1u << 20;

  /// `first_fence`: the first fence to issue (the app picks max(wall-clock ns,
  /// persisted high-water mark)). `store` may be null.
  explicit TokenSource(std::uint64_t first_fence, FenceStore* store = nullptr);

  /// True if a fence may be issued now: the block it falls in is persisted (a new
  /// block is persisted here when needed), or there is no store. While false, no
  /// fence may be issued: an unpersisted one could be reissued after a crash.
  bool Ready();
  /// The next token. Call only after Ready() returned true.
  Token Next();
  /// Every fence issued so far is below this (the persisted mark; 0 if no store).
  std::uint64_t reserved_until() const { return reserved_until_; }
  /// Durable mode: fences from now on are at least `floor` (never lower than those
  /// issued already) and below `ceiling`; Ready() is false once they reach it.
  void Rebase(std::uint64_t floor, std::uint64_t ceiling);
  std::uint64_t next_fence() const { return next_fence_; }

 private:
  std::uint64_t RandomU64();

  std::uint64_t next_fence_;
  std::uint64_t reserved_until_ = 0;
  std::uint64_t ceiling_ = ~std::uint64_t{0};
  FenceStore* store_;
  std::array<std::uint64_t, 64> random_pool_{};
  std::size_t random_left_ = 0;
};

}  // namespace dflockd::core
