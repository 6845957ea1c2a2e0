#include "cluster/peer_wire.h"

#include <charconv>

#include "core/decimal.h"
#include "core/overloaded.h"
#include "json/stats_parse.h"

namespace dflockd::cluster {
namespace {

using core::ErrorCode;
using core::Namespace;

void AppendInt(std::string& out, std::int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void Line(std::string& out, std::string_view command, std::string_view key) {
  out.append(command);
  out.push_back('\n');
  out.append(key);
  out.push_back('\n');
}

void AppendLease(std::string& out, const std::optional<std::int64_t>& lease) {
  if (!lease) return;
  out.push_back(' ');
  AppendInt(out, *lease);
}

void AppendDelay(std::string& out, const std::optional<std::int64_t>& delay) {
  if (!delay) return;
  out.append(" delay=");
  AppendInt(out, *delay);
}

bool Semaphore(Namespace ns) { return ns == Namespace::kSemaphore; }

/// `<token> <lease>` after the status word.
core::Result<core::Reply> ParseGrant(std::string_view rest) {
  auto space = rest.find(' ');
  if (space != core::kTokenDigits) return ErrorCode::kUnavailable;
  auto token = core::ParseToken(rest.substr(0, space));
  auto lease = core::ParseDecimal(rest.substr(space + 1));
  if (!token || !lease) return ErrorCode::kUnavailable;
  return core::Reply{core::Granted{*token, *lease}};
}

}  // namespace

void AppendPeerRequest(std::string& out, const core::Command& command) {
  std::visit(
      Overloaded{
          [&](const core::Acquire& c) {
            Line(out, Semaphore(c.ns) ? "sl" : "l", c.key);
            AppendInt(out, c.timeout_s);
            if (Semaphore(c.ns)) {
              out.push_back(' ');
              AppendInt(out, c.limit);
            }
            AppendLease(out, c.lease_s);
            AppendDelay(out, c.lock_delay_s);
          },
          [&](const core::Enqueue& c) {
            Line(out, Semaphore(c.ns) ? "se" : "e", c.key);
            if (Semaphore(c.ns)) AppendInt(out, c.limit);
            AppendLease(out, c.lease_s);
            AppendDelay(out, c.lock_delay_s);
            // `e` with neither lease nor delay has an empty arg; a leading space when
            // only a lease follows is one more run of blanks, which the parser skips.
          },
          [&](const core::Wait& c) {
            Line(out, Semaphore(c.ns) ? "sw" : "w", c.key);
            AppendInt(out, c.timeout_s);
          },
          [&](const core::Release& c) {
            Line(out, Semaphore(c.ns) ? "sr" : "r", c.key);
            if (c.token) core::AppendToken(out, *c.token);  // invalid ones are not forwarded
          },
          [&](const core::Renew& c) {
            Line(out, Semaphore(c.ns) ? "sn" : "n", c.key);
            if (c.token) core::AppendToken(out, *c.token);  // invalid ones are not forwarded
            AppendLease(out, c.lease_s);
          },
          [&](const core::Listen& c) {
            Line(out, "listen", c.pattern);
            out.append(c.group);
          },
          [&](const core::Unlisten& c) {
            Line(out, "unlisten", c.pattern);
            out.append(c.group);
          },
          [&](const core::Publish& c) {
            Line(out, "signal", c.channel);
            out.append(c.payload);
          },
          [&](const core::Ping&) { Line(out, "ping", "_"); out.push_back('_'); },
          [&](const core::Stats&) { Line(out, "stats", "_"); out.push_back('_'); },
      },
      command);
  out.push_back('\n');
}

void AppendPeerHello(std::string& out, std::string_view auth_token, std::size_t from_shard,
                     bool detached) {
  if (!auth_token.empty()) {
    Line(out, "auth", "_");
    out.append(auth_token);
    out.push_back('\n');
  }
  Line(out, "peer", std::to_string(from_shard));
  out.append(detached ? "detached\n" : "session\n");
}

ErrorCode ErrorFromStatus(std::string_view status) {
  if (status == "timeout") return ErrorCode::kTimeout;
  if (status == "error_max_locks") return ErrorCode::kMaxLocks;
  if (status == "error_max_waiters") return ErrorCode::kMaxWaiters;
  if (status == "error_limit_mismatch") return ErrorCode::kLimitMismatch;
  if (status == "error_not_enqueued") return ErrorCode::kNotEnqueued;
  if (status == "error_already_enqueued") return ErrorCode::kAlreadyEnqueued;
  if (status == "error_lease_expired") return ErrorCode::kLeaseExpired;
  if (status == "error_draining") return ErrorCode::kDraining;
  if (status == "error_not_held") return ErrorCode::kNotHeld;
  if (status == "error_max_subscriptions") return ErrorCode::kMaxSubscriptions;
  if (status == "error_fence_unavailable") return ErrorCode::kFenceUnavailable;
  if (status == "error") return ErrorCode::kInvalid;
  return ErrorCode::kUnavailable;  // error_unavailable, error_auth, or not our protocol
}

core::Result<core::Reply> ParsePeerReply(const core::Command& command, std::string_view line) {
  auto space = line.find(' ');
  const std::string_view status = line.substr(0, space);
  const std::string_view rest = space == std::string_view::npos ? std::string_view{}
                                                                : line.substr(space + 1);
  if (status != "ok" && status != "acquired" && status != "queued") {
    return ErrorFromStatus(status);
  }
  return std::visit(
      Overloaded{
          [&](const core::Acquire&) -> core::Result<core::Reply> {
            return status == "ok" ? ParseGrant(rest) : ErrorCode::kUnavailable;
          },
          [&](const core::Wait&) -> core::Result<core::Reply> {
            return status == "ok" ? ParseGrant(rest) : ErrorCode::kUnavailable;
          },
          [&](const core::Enqueue&) -> core::Result<core::Reply> {
            if (status == "queued" && rest.empty()) return core::Reply{core::Queued{}};
            return status == "acquired" ? ParseGrant(rest) : ErrorCode::kUnavailable;
          },
          [&](const core::Renew&) -> core::Result<core::Reply> {
            auto lease = core::ParseDecimal(rest);
            if (status != "ok" || !lease) return ErrorCode::kUnavailable;
            return core::Reply{core::Renewed{*lease}};
          },
          [&](const core::Publish&) -> core::Result<core::Reply> {
            auto n = core::ParseDecimal(rest);
            if (status != "ok" || !n) return ErrorCode::kUnavailable;  // n >= 0: digits only
            return core::Reply{core::Published{static_cast<std::uint64_t>(*n)}};
          },
          [&](const core::Stats&) -> core::Result<core::Reply> {
            auto stats = status == "ok" ? json::ParseStatsJson(rest) : std::nullopt;
            if (!stats) return ErrorCode::kUnavailable;
            return core::Reply{std::move(*stats)};
          },
          [&](const auto&) -> core::Result<core::Reply> {  // release, listen, unlisten, ping
            if (status != "ok" || !rest.empty()) return ErrorCode::kUnavailable;
            return core::Reply{core::Ack{}};
          },
      },
      command);
}

}  // namespace dflockd::cluster
