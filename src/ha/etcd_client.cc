#include "ha/etcd_client.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "io/read_file.h"

namespace dflockd::ha {
namespace {

using io::ReadFile;

std::shared_ptr<grpc::ChannelCredentials> Credentials(const EtcdOptions& o) {
  if (o.ca_file.empty() && o.cert_file.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!o.ca_file.empty()) ssl.pem_root_certs = ReadFile(o.ca_file);
  if (!o.cert_file.empty()) {
    ssl.pem_cert_chain = ReadFile(o.cert_file);
    ssl.pem_private_key = ReadFile(o.key_file);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

bool EtcdStatus::outcome_unknown() const {
  auto c = static_cast<grpc::StatusCode>(code);
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::UNKNOWN || c == grpc::StatusCode::CANCELLED ||
         c == grpc::StatusCode::INTERNAL;
}

std::string EtcdStatus::ToString() const {
  if (ok()) return "ok";
  return "code " + std::to_string(code) + ": " + message;
}

struct EtcdClient::Endpoint {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<etcdserverpb::KV::Stub> kv;
  std::unique_ptr<etcdserverpb::Lease::Stub> lease;
  std::unique_ptr<etcdserverpb::Auth::Stub> auth;
  std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  std::mutex token_mutex;
  std::string token;
};

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {
  if (options_.endpoints.empty()) throw std::invalid_argument("no etcd endpoints");
  auto creds = Credentials(options_);
  for (const auto& address : options_.endpoints) {
    auto e = std::make_unique<Endpoint>();
    e->address = address;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(256 << 20);  // a new leader reads every hold at once
    // Fail fast while a member is down, so the next one is tried within the deadline.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    e->channel = grpc::CreateCustomChannel(address, creds, args);
    e->kv = etcdserverpb::KV::NewStub(e->channel);
    e->lease = etcdserverpb::Lease::NewStub(e->channel);
    e->auth = etcdserverpb::Auth::NewStub(e->channel);
    e->maintenance = etcdserverpb::Maintenance::NewStub(e->channel);
    endpoints_.push_back(std::move(e));
  }
}

EtcdClient::~EtcdClient() = default;

std::string EtcdClient::endpoint() const {
  std::lock_guard lock(mutex_);
  return endpoints_[current_]->address;
}

void EtcdClient::Rotate(std::size_t from) {
  std::lock_guard lock(mutex_);
  if (current_ == from && endpoints_.size() > 1) {
    current_ = (current_ + 1) % endpoints_.size();
    spdlog::debug("etcd: trying {} next", endpoints_[current_]->address);
  }
}

void EtcdClient::PreferRaftLeader(Timeout timeout) {
  if (endpoints_.size() < 2) return;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& e = *endpoints_[i];
    std::string token;
    if (!EnsureToken(e, timeout, &token).ok()) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    if (!token.empty()) ctx.AddMetadata("token", token);
    etcdserverpb::StatusRequest req;
    etcdserverpb::StatusResponse resp;
    if (!e.maintenance->Status(&ctx, req, &resp).ok()) continue;
    if (resp.leader() == 0 || resp.leader() != resp.header().member_id()) continue;
    std::lock_guard lock(mutex_);
    if (current_ != i) {
      spdlog::debug("etcd: {} is the raft leader: calls go there", e.address);
      current_ = i;
    }
    return;
  }
}

EtcdStatus EtcdClient::EnsureToken(Endpoint& e, Timeout timeout, std::string* token) {
  if (options_.user.empty()) return {};
  std::lock_guard lock(e.token_mutex);
  if (e.token.empty()) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    etcdserverpb::AuthenticateRequest req;
    req.set_name(options_.user);
    req.set_password(options_.password);
    etcdserverpb::AuthenticateResponse resp;
    grpc::Status s = e.auth->Authenticate(&ctx, req, &resp);
    if (!s.ok()) return {static_cast<int>(s.error_code()), "authenticate: " + s.error_message()};
    e.token = resp.token();
  }
  *token = e.token;
  return {};
}

template <typename CallFn>
EtcdStatus EtcdClient::Unary(Timeout timeout, CallFn call) {
  EtcdStatus result;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::size_t index;
    {
      std::lock_guard lock(mutex_);
      index = current_;
    }
    Endpoint& e = *endpoints_[index];
    std::string token;
    result = EnsureToken(e, timeout, &token);
    if (result.ok()) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + timeout);
      if (!token.empty()) ctx.AddMetadata("token", token);
      grpc::Status s = call(e, ctx);
      if (s.ok()) {
        healthy_.store(true, std::memory_order_relaxed);
        return {};
      }
      result = {static_cast<int>(s.error_code()), s.error_message()};
      const bool token_refused = s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                                 s.error_message().find("invalid auth token") != std::string::npos;
      if (token_refused && !token.empty() && attempt == 0) {
        std::lock_guard lock(e.token_mutex);
        e.token.clear();  // expired (etcd's simple tokens do): authenticate once more
        continue;
      }
    }
    if (result.outcome_unknown()) {
      healthy_.store(false, std::memory_order_relaxed);
      Rotate(index);
    }
    return result;
  }
  return result;
}

EtcdStatus EtcdClient::Range(const etcdserverpb::RangeRequest& request,
                             etcdserverpb::RangeResponse* response, Timeout timeout) {
  return Unary(timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.kv->Range(&ctx, request, response);
  });
}

EtcdStatus EtcdClient::Txn(const etcdserverpb::TxnRequest& request,
                           etcdserverpb::TxnResponse* response, Timeout timeout) {
  return Unary(timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.kv->Txn(&ctx, request, response);
  });
}

EtcdStatus EtcdClient::Compact(std::int64_t revision, Timeout timeout) {
  etcdserverpb::CompactionRequest req;
  req.set_revision(revision);
  etcdserverpb::CompactionResponse resp;
  return Unary(timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.kv->Compact(&ctx, req, &resp);
  });
}

EtcdStatus EtcdClient::LeaseGrant(std::int64_t ttl_s, std::int64_t* id, std::int64_t* granted_ttl_s,
                                  Timeout timeout) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl_s);
  etcdserverpb::LeaseGrantResponse resp;
  EtcdStatus s = Unary(timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.lease->LeaseGrant(&ctx, req, &resp);
  });
  if (s.ok() && !resp.error().empty()) return {static_cast<int>(grpc::StatusCode::UNKNOWN), resp.error()};
  if (s.ok()) {
    *id = resp.id();
    *granted_ttl_s = resp.ttl();
  }
  return s;
}

EtcdStatus EtcdClient::LeaseRevoke(std::int64_t id, Timeout timeout) {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(id);
  etcdserverpb::LeaseRevokeResponse resp;
  return Unary(timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    return e.lease->LeaseRevoke(&ctx, req, &resp);
  });
}

EtcdStatus EtcdClient::LeaseKeepAlive(std::int64_t id, std::int64_t* ttl_s, Timeout timeout) {
  return Unary(timeout, [&](Endpoint& e, grpc::ClientContext& ctx) {
    // LeaseKeepAlive is a bidirectional stream; one request, one answer is a round trip.
    auto stream = e.lease->LeaseKeepAlive(&ctx);
    etcdserverpb::LeaseKeepAliveRequest req;
    req.set_id(id);
    etcdserverpb::LeaseKeepAliveResponse resp;
    if (!stream->Write(req) || !stream->Read(&resp)) {
      stream->WritesDone();
      grpc::Status s = stream->Finish();
      return s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "keep-alive stream ended") : s;
    }
    *ttl_s = resp.ttl();
    stream->WritesDone();
    ctx.TryCancel();  // nothing more to read; Finish reports the cancel, not an error
    stream->Finish();
    return grpc::Status::OK;
  });
}

}  // namespace dflockd::ha
