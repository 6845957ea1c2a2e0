#include "grpc/peer_connections.h"

namespace dflockd::grpc_api {

std::string PeerAddress(std::string_view peer) {
  const bool ip = peer.substr(0, 5) == "ipv4:" || peer.substr(0, 5) == "ipv6:";
  if (!ip) return std::string(peer);  // unix:…, or a form we do not know: as it is
  peer.remove_prefix(5);
  std::string_view host = peer.substr(0, peer.rfind(':'));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
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
