#include "limits/connection_limiter.h"

namespace dflockd::limits {

bool ConnectionLimiter::WouldAdmit(const std::string& ip) const {
  if (max_total_ != 0 && total_ >= max_total_) return false;
  return max_per_ip_ == 0 || from(ip) < max_per_ip_;
}

void ConnectionLimiter::Add(const std::string& ip) {
  ++per_ip_[ip];
  ++total_;
}

void ConnectionLimiter::Release(const std::string& ip) {
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  if (--it->second == 0) per_ip_.erase(it);
  --total_;
}

std::size_t ConnectionLimiter::from(const std::string& ip) const {
  auto it = per_ip_.find(ip);
  return it == per_ip_.end() ? 0 : it->second;
}

}  // namespace dflockd::limits
