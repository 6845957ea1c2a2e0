// What the engine reports of every change a client can observe, for durable mode:
// a Journal (src/ha) writes these through to a store before the replies go out.
// Called on the engine's thread, synchronously, in the order the changes happen.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/clock.h"
#include "core/command.h"
#include "core/token_source.h"

namespace dflockd::core {

/// A hold as it stands after a grant or a renewal.
struct HoldRecord {
  Namespace ns = Namespace::kLock;
  std::string_view key;
  std::uint32_t limit = 1;  ///< 1 for locks, the semaphore's limit otherwise
  Token token;
  std::int64_t lease_s = 0;
  std::int64_t lock_delay_s = 0;
  TimePoint expires{};  ///< on the engine's clock
};

/// A slot withheld by lock-delay after the hold `token` ended without a release.
struct DelayRecord {
  Namespace ns = Namespace::kLock;
  std::string_view key;
  std::uint32_t limit = 1;
  Token token;
  TimePoint until{};
};

class Journal {
 public:
  virtual ~Journal() = default;
  /// Granted (including two-phase grants), renewed, or its lease restarted by Wait.
  virtual void Held(const HoldRecord& hold) = 0;
  /// Released, expired or auto-released.
  virtual void Dropped(const Token& token) = 0;
  virtual void DelayStarted(const DelayRecord& delay) = 0;
  virtual void DelayEnded(const Token& token) = 0;
};

}  // namespace dflockd::core
