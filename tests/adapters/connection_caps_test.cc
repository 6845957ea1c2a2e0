#include <gtest/gtest.h>

#include "grpc/peer_connections.h"
#include "limits/connection_limiter.h"

namespace dflockd {
namespace {

TEST(ConnectionLimiter, TotalAndPerAddressCaps) {
  limits::ConnectionLimiter limiter(3, 2);
  EXPECT_TRUE(limiter.TryAdmit("a"));
  EXPECT_TRUE(limiter.TryAdmit("a"));
  EXPECT_FALSE(limiter.TryAdmit("a"));  // per address
  EXPECT_TRUE(limiter.TryAdmit("b"));
  EXPECT_FALSE(limiter.TryAdmit("c"));  // total
  limiter.Release("a");
  EXPECT_EQ(limiter.total(), 2u);
  EXPECT_TRUE(limiter.TryAdmit("c"));
  EXPECT_EQ(limiter.from("a"), 1u);
}

TEST(ConnectionLimiter, ZeroMeansUnlimited) {
  limits::ConnectionLimiter limiter(0, 0);
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter.TryAdmit("a"));
  limiter.Release("nobody");  // harmless
  EXPECT_EQ(limiter.total(), 1000u);
}

TEST(GrpcPeers, AddressOfPeerUri) {
  EXPECT_EQ(grpc_api::PeerAddress("ipv4:10.0.0.7:51234"), "10.0.0.7");
  EXPECT_EQ(grpc_api::PeerAddress("ipv6:[::1]:51234"), "::1");
  EXPECT_EQ(grpc_api::PeerAddress("ipv6:[2001:db8::2]:1"), "2001:db8::2");
  EXPECT_EQ(grpc_api::PeerAddress("unix:/tmp/sock"), "unix:/tmp/sock");
}

TEST(GrpcPeers, ACallOnAnAdmittedConnectionIsNotANewConnection) {
  grpc_api::PeerConnections peers(0, 1);
  EXPECT_TRUE(peers.Enter("ipv4:1.2.3.4:1000"));
  EXPECT_TRUE(peers.Enter("ipv4:1.2.3.4:1000"));   // same connection, second call
  EXPECT_FALSE(peers.Enter("ipv4:1.2.3.4:1001"));  // a second connection from 1.2.3.4
  EXPECT_TRUE(peers.Enter("ipv4:5.6.7.8:1000"));
  EXPECT_EQ(peers.calls(), 3u);
  peers.Leave("ipv4:1.2.3.4:1000");
  EXPECT_FALSE(peers.Enter("ipv4:1.2.3.4:1001"));  // still one call open on :1000
  peers.Leave("ipv4:1.2.3.4:1000");
  EXPECT_TRUE(peers.Enter("ipv4:1.2.3.4:1001"));
}

TEST(GrpcPeers, SlotLeavesOnDestruction) {
  grpc_api::PeerConnections peers(1, 0);
  {
    ASSERT_TRUE(peers.Enter("ipv4:1.1.1.1:1"));
    grpc_api::CallSlot slot(&peers, "ipv4:1.1.1.1:1");
    grpc_api::CallSlot moved(std::move(slot));
    EXPECT_FALSE(peers.Enter("ipv4:2.2.2.2:1"));
  }
  EXPECT_EQ(peers.calls(), 0u);
  EXPECT_TRUE(peers.Enter("ipv4:2.2.2.2:1"));
}

}  // namespace
}  // namespace dflockd
