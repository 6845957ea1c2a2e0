#include "native/response_writer.h"

#include <charconv>

#include "json/stats_json.h"
#include "core/overloaded.h"

namespace dflockd::native {
namespace {


template <typename Int>
void AppendInt(std::string& out, Int v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

}  // namespace

std::string_view StatusFor(core::ErrorCode code, Vocabulary vocabulary) {
  using core::ErrorCode;
  if (vocabulary == Vocabulary::kPeer) {
    switch (code) {
      case ErrorCode::kNotHeld: return "error_not_held";
      case ErrorCode::kMaxSubscriptions: return "error_max_subscriptions";
      case ErrorCode::kFenceUnavailable: return "error_fence_unavailable";
      case ErrorCode::kUnavailable: return "error_unavailable";
      default: break;  // the rest already have a word of their own
    }
  }
  switch (code) {
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kMaxLocks: return "error_max_locks";
    case ErrorCode::kMaxWaiters: return "error_max_waiters";
    case ErrorCode::kLimitMismatch: return "error_limit_mismatch";
    case ErrorCode::kNotEnqueued: return "error_not_enqueued";
    case ErrorCode::kAlreadyEnqueued: return "error_already_enqueued";
    case ErrorCode::kLeaseExpired: return "error_lease_expired";
    case ErrorCode::kDraining: return "error_draining";
    case ErrorCode::kFenceUnavailable:
    case ErrorCode::kUnavailable: return "error";
    case ErrorCode::kInvalid:
    case ErrorCode::kNotHeld:
    case ErrorCode::kMaxSubscriptions:
    case ErrorCode::kCancelled: return "error";
  }
  return "error";
}

void AppendResponse(std::string& out, const core::Result<core::Reply>& result, bool enqueue,
                    Vocabulary vocabulary) {
  if (!result.ok()) {
    out.append(StatusFor(result.error(), vocabulary));
    out.push_back('\n');
    return;
  }
  std::visit(Overloaded{
                 [&](const core::Granted& g) {
                   out.append(enqueue ? "acquired " : "ok ");
                   core::AppendToken(out, g.token);
                   out.push_back(' ');
                   AppendInt(out, g.lease_s);
                 },
                 [&](const core::Queued&) { out.append("queued"); },
                 [&](const core::Renewed& r) {
                   out.append("ok ");
                   AppendInt(out, r.lease_s);
                 },
                 [&](const core::Ack&) { out.append("ok"); },
                 [&](const core::Published& p) {
                   out.append("ok ");
                   AppendInt(out, p.deliveries);
                 },
                 [&](const core::StatsSnapshot& s) {
                   out.append("ok ");
                   json::AppendStatsJson(out, s);
                 },
             },
             result.value());
  out.push_back('\n');
}

void AppendPush(std::string& out, std::string_view channel, std::string_view payload) {
  out.append("sig ");
  out.append(channel);
  out.push_back(' ');
  out.append(payload);
  out.push_back('\n');
}

}  // namespace dflockd::native
