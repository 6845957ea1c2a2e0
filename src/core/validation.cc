#include "core/validation.h"

#include "core/subject.h"
#include "core/overloaded.h"

namespace dflockd::core {
namespace {

bool TimeoutOk(std::int64_t t) { return t >= 0 && t <= kMaxTimeoutS; }
bool LeaseOk(const std::optional<std::int64_t>& l) { return !l || (*l >= 1 && *l <= kMaxLeaseS); }
bool LimitOk(Namespace ns, std::uint32_t limit) {
  return ns == Namespace::kLock ? limit == 1 : (limit >= 1 && limit <= kMaxLimit);
}
/// 0 turns lock-delay off for the hold.
bool LockDelayOk(const std::optional<std::int64_t>& d) { return !d || (*d >= 0 && *d <= kMaxLeaseS); }


}  // namespace

bool IsValid(const Command& command) {
  return std::visit(
      Overloaded{
          [](const Acquire& c) {
            return IsValidKey(c.key) && TimeoutOk(c.timeout_s) && LeaseOk(c.lease_s) &&
                   LimitOk(c.ns, c.limit) && LockDelayOk(c.lock_delay_s);
          },
          [](const Enqueue& c) {
            return IsValidKey(c.key) && LeaseOk(c.lease_s) && LimitOk(c.ns, c.limit) &&
                   LockDelayOk(c.lock_delay_s);
          },
          [](const Wait& c) { return IsValidKey(c.key) && TimeoutOk(c.timeout_s); },
          [](const Release& c) { return IsValidKey(c.key) && c.token.has_value(); },
          [](const Renew& c) {
            return IsValidKey(c.key) && c.token.has_value() && LeaseOk(c.lease_s);
          },
          [](const auto&) { return true; },
      },
      command);
}

}  // namespace dflockd::core
