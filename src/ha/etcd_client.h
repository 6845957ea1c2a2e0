// A blocking client for the parts of etcd's v3 API durable mode uses: KV (Range,
// Txn, Compact) and Lease (Grant, Revoke, KeepAlive), over one of several endpoints.
//
// Each call has its own deadline. A call that fails for want of the endpoint
// (UNAVAILABLE, DEADLINE_EXCEEDED) moves later calls to the next endpoint; etcd
// forwards writes to its leader itself, so any member will do, but the raft leader
// saves that hop (PreferRaftLeader). With a user name,
// calls carry the token from Auth.Authenticate (fetched again when it is refused).
// Thread-safe: the election and the commit worker call it from their own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etcd/etcdserver/etcdserverpb/rpc.pb.h"
#include "ha/options.h"

namespace dflockd::ha {

/// The outcome of one call: ok, or gRPC's status code and message.
struct EtcdStatus {
  int code = 0;  ///< grpc::StatusCode
  std::string message;
  bool ok() const { return code == 0; }
  /// The call may or may not have taken effect (the endpoint went away mid-call).
  bool outcome_unknown() const;
  std::string ToString() const;
};

class EtcdClient {
 public:
  using Timeout = std::chrono::milliseconds;

  explicit EtcdClient(EtcdOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  EtcdStatus Range(const etcdserverpb::RangeRequest& request, etcdserverpb::RangeResponse* response,
                   Timeout timeout);
  EtcdStatus Txn(const etcdserverpb::TxnRequest& request, etcdserverpb::TxnResponse* response,
                 Timeout timeout);
  EtcdStatus Compact(std::int64_t revision, Timeout timeout);
  EtcdStatus LeaseGrant(std::int64_t ttl_s, std::int64_t* id, std::int64_t* granted_ttl_s,
                        Timeout timeout);
  EtcdStatus LeaseRevoke(std::int64_t id, Timeout timeout);
  /// One keep-alive round trip; `ttl_s` gets the lease's remaining TTL (<= 0: gone).
  EtcdStatus LeaseKeepAlive(std::int64_t id, std::int64_t* ttl_s, Timeout timeout);

  /// Points later calls at the member that is etcd's raft leader, if one of the
  /// endpoints says it is (a follower would forward every write to it: one more hop
  /// of latency and CPU per Txn). No change when none answers or knows a leader.
  void PreferRaftLeader(Timeout timeout);

  /// The endpoint calls go to now.
  std::string endpoint() const;
  /// The last call succeeded (for /v1/cluster and the stats' cluster object).
  bool healthy() const { return healthy_.load(std::memory_order_relaxed); }

 private:
  struct Endpoint;

  /// Runs `call(endpoint, context)` (returning a grpc::Status) against the current
  /// endpoint with a deadline and the auth token; rotates on transport failures.
  template <typename CallFn>
  EtcdStatus Unary(Timeout timeout, CallFn call);
  /// The auth token for `e`, authenticating first if there is none; empty without a user.
  EtcdStatus EnsureToken(Endpoint& e, Timeout timeout, std::string* token);
  void Rotate(std::size_t from);

  EtcdOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  mutable std::mutex mutex_;
  std::size_t current_ = 0;
  std::atomic<bool> healthy_{false};
};

}  // namespace dflockd::ha
