// "ip:port" of a peer as watchers show it ("[v6]:port" for IPv6), from an Asio endpoint.
#pragma once

#include <string>

namespace dflockd::http {

template <typename Endpoint>
std::string RemoteAddress(const Endpoint& peer) {
  const std::string ip = peer.address().to_string();
  return (peer.address().is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(peer.port());
}

}  // namespace dflockd::http
