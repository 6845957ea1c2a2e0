// Shard routing: a CommandExecutor in front of the local engine that makes a set of
// shards behave as one lock service. Key `k` belongs to shard crc32(k) % N; commands on
// keys this shard owns go straight to the engine; the rest are forwarded to the owner
// over the native protocol and its reply handed back as the engine's would be.
//
//  * Sessions (native connection, gRPC Session, WebSocket, an HTTP connection's
//    two-phase state) forward over upstream connections of their own, one per peer,
//    so two-phase, FIFO order and disconnect cleanup hold across shards: closing the
//    session closes them and the owner releases what they held.
//  * Requests outside a session (REST and unary gRPC acquire, release, renew) use a
//    per-peer pool of `detached` connections: the owner runs them outside any session,
//    so their holds outlive the connection, as locally.
//  * Signals: a subscription registers here and on every other shard (through the
//    session's upstream connections); a publish runs once, here. So each listener gets
//    one copy and a queue group delivers once, wherever its members are connected.
//  * Connections from other shards (`peer`) are served locally, never forwarded again.
//  * Durable mode (`replicated`): the keys this shard owns live on its leader replica.
//    While another replica leads (SetLeader), they are forwarded to it through one more
//    peer slot, as are publishes (a publish runs once, on the leader) and stats;
//    subscriptions are registered here and on the leader. A connection from another
//    shard that reached a follower is passed on to the leader once (its requests and
//    subscriptions go there); one from a replica of this shard never is (the peer hello
//    carries the shard index), so no request travels more than two hops or loops.
//
// Threading: all on the engine's io_context thread, like the engine itself.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <set>
#include <unordered_set>
#include <vector>

#include "cluster/peer.h"
#include "cluster/topology.h"
#include "core/executor.h"

namespace dflockd::cluster {

struct RouterConfig {
  Topology topology;
  std::string auth_token;                    ///< sent to peers (every shard shares it)
  boost::asio::ssl::context* tls = nullptr;  ///< client context when TLS is on
  std::chrono::milliseconds connect_timeout{1000};
  /// A reply later than this (beyond the request's own wait) fails the connection.
  std::chrono::milliseconds reply_timeout{5000};
  /// Idle upstream connections send `ping` this often (peers close idle connections
  /// after their read timeout).
  std::chrono::milliseconds ping_interval{5000};
  /// Durable mode: this shard's keys are served by whichever replica leads.
  bool replicated = false;
  /// Adds this process's own state to every stats reply (durable mode's cluster view).
  std::function<void(core::StatsSnapshot&)> describe;
};

class Router final : public core::CommandExecutor {
 public:
  Router(boost::asio::io_context& io, core::CommandExecutor& local, RouterConfig config);
  ~Router() override;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  core::SessionId OpenSession(core::SessionSink* sink) override;
  void CloseSession(core::SessionId session) override;
  core::RequestId Submit(core::SessionId session, core::Command command,
                         core::Completion done) override;
  void Cancel(core::RequestId request) override;
  /// Watches and session descriptions are this shard's own (its keys).
  void DescribeSession(core::SessionId session, core::SessionInfo info) override {
    local_.DescribeSession(session, std::move(info));
  }
  core::Result<core::WatchId> Watch(std::string pattern, core::WatchSink* sink) override {
    return local_.Watch(std::move(pattern), sink);
  }
  void Unwatch(core::WatchId watch) override { local_.Unwatch(watch); }

  /// Native `peer`: the session is another shard's upstream connection (from shard
  /// `from_shard`). Its commands run here, or on this shard's leader (durable mode, from
  /// another shard); `detached`: its acquires belong to no session.
  bool MarkPeer(core::SessionId session, bool detached, std::size_t from_shard);

  const Topology& topology() const { return config_.topology; }
  /// Durable mode: the leader's native address, or nullopt when this replica serves its
  /// shard's keys itself (it leads, or no leader is known and the engine refuses them).
  /// Everything forwarded to a previous leader fails; sessions that held state there
  /// end, as when a connection to a shard is lost.
  void SetLeader(std::optional<std::string> address);
  /// Prometheus lines for forwarded requests, upstream errors and peer state.
  std::string RenderMetrics() const;
  /// Starts the keep-alive/retry timer.
  void Start();
  /// Closes every upstream connection (at exit, after the sessions are gone).
  void Stop();

 private:
  struct Session;
  struct Forwarded;
  class Gather;

  Session* Find(core::SessionId id);
  /// Durable mode: `s` came from another shard and may be passed on to this shard's
  /// leader (its own replicas' connections never are).
  bool Relays(const Session& s) const;
  /// Whether `s`'s subscriptions are registered on peer slot `slot`: a client's on every
  /// shard and the leader, a relayed peer's on the leader only.
  bool SubscribesOn(const Session& s, std::size_t slot) const;
  std::unique_ptr<Peer> MakePeer(std::size_t index, const std::string& address) const;
  /// Durable mode with another replica leading: its slot in peers_, else npos.
  std::size_t RemoteLeader() const {
    return leader_slot_ != kNoSlot && peers_[leader_slot_] ? leader_slot_ : kNoSlot;
  }
  void Describe(core::Result<core::Reply>& r) const;
  /// Sends `command` to shard `shard`: over the session's own connection, or (no
  /// session) a pooled detached one.
  core::RequestId Forward(Session* s, std::size_t shard, core::Command command,
                          core::Completion done);
  std::shared_ptr<Upstream> SessionUpstream(Session& s, std::size_t shard);
  std::shared_ptr<Upstream> NewUpstream(std::size_t shard, bool detached);
  void OnReply(const std::shared_ptr<Forwarded>& f, std::optional<std::string_view> line);
  void OnSessionUpstreamLost(core::SessionId id, std::size_t shard, const std::string& why,
                             bool established);
  /// Listen/unlisten here, then on every reachable peer; answers when all have.
  core::RequestId Subscribe(Session& s, core::Command command, core::Completion done);
  void Resubscribe(Session& s, std::size_t shard);
  core::RequestId ClusterStats(core::SessionId session, core::Completion done);
  /// Ends a session's forwarding: its forwarded requests complete kCancelled and its
  /// upstream connections close (the owners release what they held).
  void Detach(Session& s);
  /// Drops a session's record and forwarding (Detach) and, unless the engine already
  /// did, closes it in the engine. Returns the adapter's sink (null if none).
  core::SessionSink* Forget(core::SessionId id, bool engine_closed);
  /// Ends a session as a failure: the adapter is told through its sink (Evicted).
  void Evict(core::SessionId id, bool engine_closed = false);
  /// A stats snapshot without the connections of other shards.
  void WithoutPeerSessions(core::StatsSnapshot& snap) const;
  void OnTick();

  boost::asio::io_context& io_;
  core::CommandExecutor& local_;
  RouterConfig config_;
  static constexpr std::size_t kNoSlot = static_cast<std::size_t>(-1);
  /// By shard index; null for self. Durable mode adds one slot for the leader of this
  /// shard (null while this replica serves its keys).
  std::vector<std::unique_ptr<Peer>> peers_;
  std::size_t leader_slot_ = kNoSlot;
  std::unordered_map<core::SessionId, std::unique_ptr<Session>> sessions_;
  std::unordered_set<core::SessionId> detached_peers_;
  std::size_t peer_sessions_ = 0;
  std::set<core::SessionId> resubscribe_;  ///< sessions with a subscription missing on a peer
  std::unordered_map<core::RequestId, std::shared_ptr<Forwarded>> inflight_;
  core::RequestId next_request_ = 1;
  boost::asio::steady_timer tick_;
  bool stopped_ = false;
};

}  // namespace dflockd::cluster
