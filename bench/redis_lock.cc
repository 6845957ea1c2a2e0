#include "redis_lock.h"

#include <charconv>

namespace dflockd::bench {

const char* const kRedisReleaseScript =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end";

std::string RespCommand(const std::vector<std::string_view>& args) {
  // (Built with append: operator+ on std::to_string trips a GCC 12 -Wrestrict false positive.)
  std::string out = "*";
  out += std::to_string(args.size());
  out += "\r\n";
  for (std::string_view a : args) {
    out += '$';
    out += std::to_string(a.size());
    out += "\r\n";
    out.append(a);
    out += "\r\n";
  }
  return out;
}

std::string RedisAcquire(std::string_view key, std::string_view token, long ttl_ms) {
  const std::string ttl = std::to_string(ttl_ms);
  return RespCommand({"SET", key, token, "NX", "PX", ttl});
}

std::string RedisRelease(std::string_view key, std::string_view token) {
  return RespCommand({"EVAL", kRedisReleaseScript, "1", key, token});
}

std::size_t RespReplyLength(std::string_view b) {
  auto line_end = b.find("\r\n");
  if (b.empty() || line_end == std::string_view::npos) return 0;
  switch (b[0]) {
    case '+':
    case '-':
    case ':':
      return line_end + 2;
    case '$': {
      long n = 0;
      auto [p, ec] = std::from_chars(b.data() + 1, b.data() + line_end, n);
      if (ec != std::errc()) return 0;
      if (n < 0) return line_end + 2;  // null bulk string
      std::size_t total = line_end + 2 + static_cast<std::size_t>(n) + 2;
      return b.size() >= total ? total : 0;
    }
    default:
      return 0;
  }
}

}  // namespace dflockd::bench
