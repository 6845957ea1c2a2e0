#include "wire.h"

#include <boost/json.hpp>

#include <charconv>

#include "dflockd/client/errors.h"

namespace dflockd::wire {
namespace {

constexpr std::size_t kMaxLine = 256;
constexpr std::size_t kMaxLongArg = 65536;  // auth token and signal payload lines
constexpr std::int64_t kMaxSeconds = 9'223'372'036;
constexpr std::uint32_t kMaxLimit = 1'048'576;

bool HasSeparator(std::string_view s) {
  return s.find_first_of(" \t\r\n") != std::string_view::npos;
}

void CheckName(std::string_view value, std::string_view what) {
  if (value.empty()) throw InvalidArgument(std::string(what) + " must not be empty");
  if (value.size() > kMaxLine) {
    throw InvalidArgument(std::string(what) + " is longer than 256 bytes");
  }
  if (HasSeparator(value)) {
    throw InvalidArgument(std::string(what) + " must not contain spaces, tabs or line breaks");
  }
}

void CheckSeconds(std::chrono::seconds s, std::int64_t min, std::string_view what) {
  if (s.count() < min || s.count() > kMaxSeconds) {
    throw InvalidArgument(std::string(what) + " must be between " + std::to_string(min) +
                          " and 9223372036 seconds");
  }
}

void CheckLimit(std::uint32_t limit) {
  if (limit < 1 || limit > kMaxLimit) {
    throw InvalidArgument("semaphore limit must be between 1 and 1048576");
  }
}

std::string Frame(std::string_view command, std::string_view key, std::string_view arg) {
  std::string out;
  out.reserve(command.size() + key.size() + arg.size() + 3);
  out.append(command).push_back('\n');
  out.append(key).push_back('\n');
  out.append(arg).push_back('\n');
  return out;
}

std::string LeaseSuffix(std::optional<std::chrono::seconds> lease) {
  if (!lease) return {};
  CheckSeconds(*lease, 1, "lease_ttl");
  return " " + std::to_string(lease->count());
}

std::string_view Word(std::string_view& rest) {
  auto start = rest.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    rest = {};
    return {};
  }
  rest.remove_prefix(start);
  auto end = rest.find(' ');
  auto word = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  return word;
}

std::optional<std::int64_t> Number(std::string_view text) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Grant GrantFrom(std::string_view rest, std::string_view reply, std::string_view key) {
  Grant grant;
  grant.token = std::string(Word(rest));
  auto lease = Number(Word(rest));
  if (grant.token.size() != 32 || !lease) {
    throw ServerError("protocol", "unexpected reply to acquire of '" + std::string(key) +
                                      "': " + std::string(reply));
  }
  grant.lease = *lease;
  return grant;
}

}  // namespace

Request Acquire(Resource r, std::string_view key, std::chrono::seconds timeout, std::uint32_t limit,
                std::optional<std::chrono::seconds> lease) {
  CheckName(key, "key");
  CheckSeconds(timeout, 0, "acquire timeout");
  std::string arg = std::to_string(timeout.count());
  if (r == Resource::kSemaphore) {
    CheckLimit(limit);
    arg += " " + std::to_string(limit);
  }
  arg += LeaseSuffix(lease);
  return {Frame(r == Resource::kLock ? "l" : "sl", key, arg), timeout};
}

Request Release(Resource r, std::string_view key, std::string_view token) {
  CheckName(key, "key");
  CheckName(token, "token");
  return {Frame(r == Resource::kLock ? "r" : "sr", key, token)};
}

Request Renew(Resource r, std::string_view key, std::string_view token,
              std::optional<std::chrono::seconds> lease) {
  CheckName(key, "key");
  CheckName(token, "token");
  return {Frame(r == Resource::kLock ? "n" : "sn", key, std::string(token) + LeaseSuffix(lease))};
}

Request Enqueue(Resource r, std::string_view key, std::uint32_t limit,
                std::optional<std::chrono::seconds> lease) {
  CheckName(key, "key");
  std::string arg;
  if (r == Resource::kSemaphore) {
    CheckLimit(limit);
    arg = std::to_string(limit);
  }
  auto suffix = LeaseSuffix(lease);
  arg += arg.empty() && !suffix.empty() ? suffix.substr(1) : suffix;
  return {Frame(r == Resource::kLock ? "e" : "se", key, arg)};
}

Request Wait(Resource r, std::string_view key, std::chrono::seconds timeout) {
  CheckName(key, "key");
  CheckSeconds(timeout, 0, "wait timeout");
  return {Frame(r == Resource::kLock ? "w" : "sw", key, std::to_string(timeout.count())), timeout};
}

Request Auth(std::string_view token) {
  if (token.empty() || token.size() > kMaxLongArg ||
      token.find_first_of("\r\n") != std::string_view::npos) {
    throw InvalidArgument("auth token must be 1..65536 bytes without line breaks");
  }
  return {Frame("auth", "_", token)};
}

Request Ping() { return {Frame("ping", "_", "_")}; }

Request Stats() { return {Frame("stats", "_", "_")}; }

Request Topology() { return {Frame("topology", "_", "_")}; }

Request Listen(std::string_view pattern, std::string_view group) {
  CheckName(pattern, "pattern");
  if (!group.empty()) CheckName(group, "queue group");
  return {Frame("listen", pattern, group)};
}

Request Unlisten(std::string_view pattern, std::string_view group) {
  CheckName(pattern, "pattern");
  if (!group.empty()) CheckName(group, "queue group");
  return {Frame("unlisten", pattern, group)};
}

Request Emit(std::string_view channel, std::string_view payload) {
  CheckName(channel, "channel");
  if (channel.find_first_of("*>") != std::string_view::npos) {
    throw InvalidArgument("channel must not contain wildcards (* or >)");
  }
  if (payload.find_first_not_of(" \t") == std::string_view::npos) {
    throw InvalidArgument("signal payload must not be empty");
  }
  if (payload.find_first_of("\r\n") != std::string_view::npos) {
    throw InvalidArgument("signal payload must not contain line breaks");
  }
  // The push frame `sig <channel> <payload>\n` must fit in 64 KiB.
  if (payload.size() + channel.size() + 6 > kMaxLongArg) {
    throw InvalidArgument("signal payload too large (the push frame must fit in 64 KiB)");
  }
  return {Frame("signal", channel, payload)};
}

void ThrowStatus(std::string_view reply, std::string_view what) {
  std::string status(reply.substr(0, reply.find(' ')));
  std::string context(what);
  if (status == "error_auth") {
    throw AuthError(context + ": the server rejected the auth token");
  }
  if (status == "timeout") throw TimeoutError(context + ": timed out");
  std::string reason;
  if (status == "error") {
    reason = "rejected by the server (bad argument, unknown key or token, or auth required)";
  } else if (status == "error_max_locks") {
    reason = "the server's lock table is full (max-locks)";
  } else if (status == "error_max_waiters") {
    reason = "too many waiters on this key (max-waiters)";
  } else if (status == "error_limit_mismatch") {
    reason = "the semaphore exists with a different limit";
  } else if (status == "error_already_enqueued") {
    reason = "already enqueued on this key";
  } else if (status == "error_not_enqueued") {
    reason = "not enqueued on this key";
  } else if (status == "error_lease_expired") {
    reason = "the lease expired before the grant could be reported";
  } else if (status == "error_draining") {
    reason = "the server is shutting down";
  } else {
    reason = "unexpected reply '" + std::string(reply) + "'";
  }
  throw ServerError(status, context + ": " + reason);
}

Grant ParseGrant(std::string_view reply, std::string_view key) {
  std::string_view rest = reply;
  if (Word(rest) != "ok") ThrowStatus(reply, "acquire '" + std::string(key) + "'");
  return GrantFrom(rest, reply, key);
}

void ParseOk(std::string_view reply, std::string_view what) {
  if (reply != "ok") ThrowStatus(reply, what);
}

std::int64_t ParseOkNumber(std::string_view reply, std::string_view what) {
  std::string_view rest = reply;
  if (Word(rest) != "ok") ThrowStatus(reply, what);
  auto n = Number(Word(rest));
  if (!n) ThrowStatus(reply, what);
  return *n;
}

EnqueueResult ParseEnqueue(std::string_view reply, std::string_view key) {
  std::string_view rest = reply;
  auto status = Word(rest);
  if (status == "queued") return {EnqueueStatus::kQueued, {}};
  if (status != "acquired") ThrowStatus(reply, "enqueue '" + std::string(key) + "'");
  return {EnqueueStatus::kAcquired, GrantFrom(rest, reply, key)};
}

std::vector<ServerAddress> ParseTopology(std::string_view reply) {
  if (reply == "error") return {};
  if (reply.substr(0, 3) != "ok ") ThrowStatus(reply, "topology");
  boost::system::error_code ec;
  auto doc = boost::json::parse(reply.substr(3), ec);
  const boost::json::value* shards =
      !ec && doc.is_object() ? doc.as_object().if_contains("shards") : nullptr;
  if (shards == nullptr || !shards->is_array()) {
    throw ServerError("protocol", "topology: reply has no shard list");
  }
  std::vector<ServerAddress> out;
  for (const auto& entry : shards->as_array()) {
    if (!entry.is_string()) throw ServerError("protocol", "topology: shard is not a string");
    out.push_back(ServerAddress::parse(std::string_view(entry.as_string())));
  }
  return out;
}

dflockd::Stats ParseStats(std::string_view reply) {
  if (reply.substr(0, 3) != "ok ") ThrowStatus(reply, "stats");
  dflockd::Stats out;
  out.json = std::string(reply.substr(3));
  boost::system::error_code ec;
  auto doc = boost::json::parse(out.json, ec);
  if (ec || !doc.is_object()) throw ServerError("protocol", "stats: reply is not a JSON object");
  const auto& root = doc.as_object();
  auto number = [](const boost::json::object& o, const char* name) -> double {
    auto* v = o.if_contains(name);
    if (v == nullptr) return 0;
    if (v->is_double()) return v->as_double();
    if (v->is_int64()) return static_cast<double>(v->as_int64());
    if (v->is_uint64()) return static_cast<double>(v->as_uint64());
    return 0;
  };
  auto count = [&](const boost::json::object& o, const char* name) {
    return static_cast<std::uint64_t>(number(o, name));
  };
  auto text = [](const boost::json::object& o, const char* name) {
    auto* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto each = [&](const char* name, auto&& fn) {
    auto* v = root.if_contains(name);
    if (v == nullptr || !v->is_array()) return;
    for (const auto& item : v->as_array()) {
      if (item.is_object()) fn(item.as_object());
    }
  };
  out.connections = count(root, "connections");
  each("locks", [&](const auto& o) {
    out.locks.push_back({text(o, "key"), count(o, "owner_conn_id"), number(o, "lease_expires_in_s"),
                         count(o, "waiters")});
  });
  each("semaphores", [&](const auto& o) {
    out.semaphores.push_back(
        {text(o, "key"), count(o, "limit"), count(o, "holders"), count(o, "waiters")});
  });
  each("idle_locks",
       [&](const auto& o) { out.idle_locks.push_back({text(o, "key"), number(o, "idle_s")}); });
  each("idle_semaphores", [&](const auto& o) {
    out.idle_semaphores.push_back({text(o, "key"), number(o, "idle_s")});
  });
  each("signal_channels", [&](const auto& o) {
    out.signal_channels.push_back({text(o, "pattern"), text(o, "group"), count(o, "listeners")});
  });
  return out;
}

std::optional<Signal> ParsePush(std::string_view line) {
  if (line.substr(0, 4) != "sig ") return std::nullopt;
  line.remove_prefix(4);
  auto space = line.find(' ');
  if (space == std::string_view::npos) return Signal{std::string(line), {}};
  return Signal{std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
}

}  // namespace dflockd::wire
