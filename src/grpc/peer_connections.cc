#include "grpc/peer_connections.h"

namespace dflockd::grpc_api {

std::string PeerAddress(std::string_view peer) {
  if (auto colon = peer.find(':'); colon != std::string_view::npos &&
                                   (peer.substr(0, colon) == "ipv4" || peer.substr(0, colon) == "ipv6")) {
    peer.remove_prefix(colon + 1);
  }
  if (auto port = peer.rfind(':'); port != std::string_view::npos) {
    std::string_view host = peer.substr(0, port);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      return std::string(host.substr(1, host.size() - 2));
    }
    if (host.find(':') == std::string_view::npos) return std::string(host);
  }
  return std::string(peer);
}

bool PeerConnections::Enter(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_per_peer_.find(peer);
  if (it == calls_per_peer_.end()) {
    if (!limiter_.TryAdmit(PeerAddress(peer))) return false;
    it = calls_per_peer_.emplace(peer, 0).first;
  }
  ++it->second;
  ++calls_;
  return true;
}

void PeerConnections::Leave(const std::string& peer) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_per_peer_.find(peer);
  if (it == calls_per_peer_.end()) return;
  --calls_;
  if (--it->second == 0) {
    calls_per_peer_.erase(it);
    limiter_.Release(PeerAddress(peer));
  }
}

std::size_t PeerConnections::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

}  // namespace dflockd::grpc_api
