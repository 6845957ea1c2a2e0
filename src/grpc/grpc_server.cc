#include "grpc/grpc_server.h"

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "io/read_file.h"
#include "grpc/service.h"

namespace dflockd::grpc_api {
namespace {

using io::ReadFile;

std::string ListenAddress(const std::string& host, std::uint16_t port) {
  bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace

struct GrpcServer::Impl {
  explicit Impl(EngineLink link) : peers(link.peers), service(std::move(link)) {}
  std::shared_ptr<PeerConnections> peers;
  DflockdService service;
  std::unique_ptr<::grpc::Server> server;
};

GrpcServer::GrpcServer(EngineLink link, GrpcServerConfig config)
    : impl_(std::make_unique<Impl>(std::move(link))), config_(std::move(config)) {}

GrpcServer::~GrpcServer() = default;

void GrpcServer::Start() {
  std::shared_ptr<::grpc::ServerCredentials> credentials;
  if (!config_.tls_cert_file.empty()) {
    ::grpc::SslServerCredentialsOptions options;
    options.pem_key_cert_pairs.push_back(
        {ReadFile(config_.tls_key_file), ReadFile(config_.tls_cert_file)});
    credentials = ::grpc::SslServerCredentials(options);
  } else {
    credentials = ::grpc::InsecureServerCredentials();
  }
  // Debian builds Abseil without NDEBUG, which leaves lock-order (deadlock) tracking
  // on for every absl::Mutex inside gRPC: a graph update per lock, several per RPC.
  // It is a debugging aid; the profile showed it on the unary hot path.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  ::grpc::EnableDefaultHealthCheckService(true);
  ::grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  ::grpc::ServerBuilder builder;
  const std::string address = ListenAddress(config_.host, config_.port);
  builder.AddListeningPort(address, credentials, &port_);
  builder.RegisterService(&impl_->service);
  // One signal frame is at most 64 KiB; leave room for the envelope.
  builder.SetMaxReceiveMessageSize(256 * 1024);
  // Dead peers: ping every connection, idle ones too, with no cap on pings sent
  // without data (gRPC stops after 2 by default), and close idle connections.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(config_.keepalive_time.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             static_cast<int>(config_.keepalive_timeout.count()));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, static_cast<int>(config_.max_idle.count()));
  // Calls (streams) one connection may have open at once; clients queue the rest.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, static_cast<int>(kMaxStreamsPerConnection));
  impl_->server = builder.BuildAndStart();
  if (!impl_->server || port_ == 0) throw std::runtime_error("cannot listen on " + address);
  SetServing(true);
  spdlog::info("gRPC listening on {}{}", ListenAddress(config_.host, static_cast<std::uint16_t>(port_)),
               config_.tls_cert_file.empty() ? "" : " (TLS)");
}

std::size_t GrpcServer::calls() const {
  return impl_->peers != nullptr ? impl_->peers->calls() : 0;
}

void GrpcServer::SetServing(bool serving) {
  if (impl_->server && impl_->server->GetHealthCheckService() != nullptr) {
    impl_->server->GetHealthCheckService()->SetServingStatus(serving);
  }
}

void GrpcServer::Shutdown(std::chrono::system_clock::time_point deadline) {
  if (!impl_->server) return;
  impl_->server->Shutdown(deadline);
  impl_->server->Wait();
  impl_->server.reset();
}

}  // namespace dflockd::grpc_api
