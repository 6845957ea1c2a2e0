#include "http/json_codec.h"

#include <cmath>

#include <boost/json.hpp>

#include "core/utf8.h"
#include "json/stats_json.h"
#include "core/overloaded.h"

namespace dflockd::http {
namespace {

namespace bj = boost::json;


/// Reads optional typed fields; any type mismatch makes the whole request invalid.
class Fields {
 public:
  explicit Fields(const bj::object& o) : o_(o) {}
  bool ok() const { return ok_; }

  std::optional<std::int64_t> Int(std::string_view name) {
    const bj::value* v = o_.if_contains(name);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64()) {
      ok_ = false;  // beyond int64: out of every range
      return std::nullopt;
    }
    ok_ = false;
    return std::nullopt;
  }

  std::string String(std::string_view name) {
    const bj::value* v = o_.if_contains(name);
    if (v == nullptr || v->is_null()) return {};
    if (!v->is_string()) {
      ok_ = false;
      return {};
    }
    return std::string(v->as_string());
  }

 private:
  const bj::object& o_;
  bool ok_ = true;
};

/// Semaphores need a limit; locks take none (a lock's limit is always 1).
std::uint32_t LimitOf(const Route& route, Fields& f) {
  if (route.ns == core::Namespace::kLock) return 1;
  auto limit = f.Int("limit");
  if (!limit || *limit < 0 || *limit > UINT32_MAX) return 0;  // fails validation
  return static_cast<std::uint32_t>(*limit);
}

core::Result<core::Command> CommandFrom(const Route& route, const bj::object& body) {
  Fields f(body);
  core::Command command;
  switch (route.endpoint) {
    case Endpoint::kAcquire: {
      core::Acquire c;
      c.ns = route.ns;
      c.key = route.key;
      c.timeout_s = f.Int("timeout_s").value_or(0);
      c.lease_s = f.Int("lease_ttl_s");
      c.limit = LimitOf(route, f);
      c.lock_delay_s = f.Int("lock_delay_s");
      command = std::move(c);
      break;
    }
    case Endpoint::kEnqueue: {
      core::Enqueue c;
      c.ns = route.ns;
      c.key = route.key;
      c.lease_s = f.Int("lease_ttl_s");
      c.limit = LimitOf(route, f);
      c.lock_delay_s = f.Int("lock_delay_s");
      command = std::move(c);
      break;
    }
    case Endpoint::kWait: {
      core::Wait c;
      c.ns = route.ns;
      c.key = route.key;
      c.timeout_s = f.Int("timeout_s").value_or(0);
      command = std::move(c);
      break;
    }
    case Endpoint::kRelease: {
      core::Release c;
      c.ns = route.ns;
      c.key = route.key;
      c.token = core::ParseToken(f.String("token"));
      command = std::move(c);
      break;
    }
    case Endpoint::kRenew: {
      core::Renew c;
      c.ns = route.ns;
      c.key = route.key;
      c.token = core::ParseToken(f.String("token"));
      c.lease_s = f.Int("lease_ttl_s");
      command = std::move(c);
      break;
    }
    case Endpoint::kPublish:
      command = core::Publish{route.key, f.String("payload")};
      break;
    case Endpoint::kListen:
      command = core::Listen{route.key, f.String("group")};
      break;
    case Endpoint::kUnlisten:
      command = core::Unlisten{route.key, f.String("group")};
      break;
    case Endpoint::kStats:
      command = core::Stats{route.cluster_scope || f.String("scope") == "cluster"};
      break;
    case Endpoint::kPing:
      command = core::Ping{};
      break;
    default:
      return core::ErrorCode::kInvalid;
  }
  if (!f.ok()) return core::ErrorCode::kInvalid;
  return command;
}

std::optional<bj::object> ParseObject(std::string_view text) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return bj::object();
  boost::system::error_code ec;
  bj::value v = bj::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

}  // namespace

core::Result<core::Command> CommandFromBody(const Route& route, std::string_view body) {
  auto object = ParseObject(body);
  if (!object) return core::ErrorCode::kInvalid;
  return CommandFrom(route, *object);
}

WsRequest ParseWsRequest(std::string_view text) {
  WsRequest out;
  auto object = ParseObject(text);
  if (!object) return out;
  if (const bj::value* id = object->if_contains("id")) {
    // Echoed back as is, except a number too large for a double (1e4001 parses as
    // infinity, which has no JSON form): found by fuzz_http_json.
    if (!id->is_double() || std::isfinite(id->get_double())) out.id = *id;
  }
  Fields f(*object);
  const std::string op = f.String("op");
  if (op == "auth") {
    const std::string token = f.String("token");
    if (f.ok()) out.auth_token = token;
    return out;
  }
  if (op == "watch" || op == "unwatch") {
    const std::string pattern = f.String("pattern");
    if (!f.ok()) return out;
    if (op == "watch") out.watch_pattern = pattern.empty() ? std::string(">") : pattern;
    out.unwatch = op == "unwatch";
    return out;
  }
  const std::string kind = f.String("kind");
  static const std::pair<const char*, Endpoint> kOps[] = {
      {"acquire", Endpoint::kAcquire}, {"release", Endpoint::kRelease},
      {"renew", Endpoint::kRenew},     {"enqueue", Endpoint::kEnqueue},
      {"wait", Endpoint::kWait},       {"publish", Endpoint::kPublish},
      {"listen", Endpoint::kListen},   {"unlisten", Endpoint::kUnlisten},
      {"stats", Endpoint::kStats},     {"ping", Endpoint::kPing},
  };
  out.route.endpoint = Endpoint::kNotFound;
  for (const auto& [name, endpoint] : kOps) {
    if (op == name) out.route.endpoint = endpoint;
  }
  if (kind == "semaphore") {
    out.route.ns = core::Namespace::kSemaphore;
  } else if (!kind.empty() && kind != "lock") {
    return out;
  }
  switch (out.route.endpoint) {
    case Endpoint::kPublish: out.route.key = f.String("channel"); break;
    case Endpoint::kListen:
    case Endpoint::kUnlisten: out.route.key = f.String("pattern"); break;
    default: out.route.key = f.String("key"); break;
  }
  if (!f.ok() || out.route.endpoint == Endpoint::kNotFound) return out;
  out.command = CommandFrom(out.route, *object);
  return out;
}

std::string ReplyJson(Endpoint endpoint, const core::Reply& reply) {
  std::string out;
  std::visit(Overloaded{
                 [&](const core::Granted& g) {
                   bj::object o;
                   if (endpoint == Endpoint::kEnqueue) o["status"] = "acquired";
                   o["token"] = core::FormatToken(g.token);
                   o["lease_ttl_s"] = g.lease_s;
                   // A string: 64-bit fences exceed what JSON numbers hold exactly in JS.
                   o["fence"] = std::to_string(g.token.fence);
                   out = bj::serialize(o);
                 },
                 [&](const core::Queued&) { out = R"({"status":"queued"})"; },
                 [&](const core::Renewed& r) {
                   out = bj::serialize(bj::object{{"lease_ttl_s", r.lease_s}});
                 },
                 [&](const core::Ack&) { out = "{}"; },
                 [&](const core::Published& p) {
                   out = bj::serialize(bj::object{{"deliveries", p.deliveries}});
                 },
                 [&](const core::StatsSnapshot& s) { json::AppendStatsJson(out, s); },
             },
             reply);
  return out;
}

std::string ErrorJson(const char* code, std::string_view message) {
  return bj::serialize(bj::object{{"error", code}, {"message", message}});
}

std::string ErrorJson(const HttpError& error) { return ErrorJson(error.code, error.message); }

std::string WsResponse(const bj::value& id, const std::string& result_json) {
  std::string out = R"({"type":"response","id":)";
  out += bj::serialize(id);
  out += R"(,"result":)";
  out += result_json;
  out += '}';
  return out;
}

std::string WsError(const bj::value& id, const HttpError& error) {
  return bj::serialize(bj::object{{"type", "response"},
                                  {"id", id},
                                  {"error", error.code},
                                  {"message", error.message}});
}

std::string WsSignal(std::string_view channel, std::string_view payload) {
  return bj::serialize(bj::object{{"type", "signal"},
                                  {"channel", core::ToValidUtf8(channel)},
                                  {"payload", core::ToValidUtf8(payload)}});
}

}  // namespace dflockd::http
