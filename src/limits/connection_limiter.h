// Connection caps of one listener: a total and a per-client-address limit. Every
// transport (native, HTTP/WebSocket, gRPC) admits connections through one of these,
// so `--max-connections` and `--max-connections-per-ip` mean the same everywhere.
// Not thread-safe: the owner serialises calls (one thread, or its own mutex).
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>

namespace dflockd::limits {

class ConnectionLimiter {
 public:
  /// 0 = unlimited, for either cap.
  ConnectionLimiter(std::size_t max_total, std::size_t max_per_ip)
      : max_total_(max_total), max_per_ip_(max_per_ip) {}

  /// Whether a cap forbids another connection from `ip`.
  bool WouldAdmit(const std::string& ip) const;
  /// Counts a connection from `ip` (whatever the caps say).
  void Add(const std::string& ip);
  /// Counts a connection from `ip` and returns true, or returns false (and counts
  /// nothing) if a cap forbids it.
  bool TryAdmit(const std::string& ip) {
    if (!WouldAdmit(ip)) return false;
    Add(ip);
    return true;
  }
  /// Forgets one connection admitted from `ip`.
  void Release(const std::string& ip);

  std::size_t total() const { return total_; }
  std::size_t from(const std::string& ip) const;

 private:
  std::size_t max_total_;
  std::size_t max_per_ip_;
  std::size_t total_ = 0;
  std::unordered_map<std::string, std::size_t> per_ip_;
};

}  // namespace dflockd::limits
