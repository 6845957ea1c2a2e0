// The gRPC listener (port 6390): service, health checking, reflection, TLS.
// gRPC headers stay in the .cc files.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "grpc/engine_link.h"

namespace dflockd::grpc_api {

/// HTTP/2 streams (calls) one gRPC connection may have open at once.
inline constexpr unsigned kMaxStreamsPerConnection = 256;

struct GrpcServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6390;
  std::string tls_cert_file;  ///< both set: TLS only
  std::string tls_key_file;
  /// The server pings every connection this often and drops one whose ping is not
  /// answered within `keepalive_timeout`, so a peer that vanished without FIN/RST
  /// loses its Session (and holds) as a native one does at its read timeout.
  std::chrono::milliseconds keepalive_time{11500};
  std::chrono::milliseconds keepalive_timeout{11500};
  /// A connection with no call for this long is closed (clients reconnect on demand).
  std::chrono::milliseconds max_idle{23000};
};

class GrpcServer {
 public:
  GrpcServer(EngineLink link, GrpcServerConfig config);
  ~GrpcServer();

  /// Binds and starts serving. Throws std::runtime_error on failure.
  void Start();
  /// Health status reported by grpc.health.v1 (NOT_SERVING while draining).
  void SetServing(bool serving);
  /// Calls in progress (Session and Subscribe streams included).
  std::size_t calls() const;
  /// Stops accepting calls; cancels those still running at `deadline`. The engine
  /// thread must keep running meanwhile: cancelled calls finish through it.
  void Shutdown(std::chrono::system_clock::time_point deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  GrpcServerConfig config_;
  int port_ = 0;
};

}  // namespace dflockd::grpc_api
