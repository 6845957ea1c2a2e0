// One replica of a durable shard (--etcd-endpoints): the CommandExecutor between the
// router and the engine that knows whether this replica leads.
//
//  * Leader: runs the engine with DurableLog as its journal; every reply waits for
//    the commit of the changes before it (DurableLog::Deliver).
//  * Not leader: lock commands (acquire, enqueue, wait, release, renew) are refused
//    with kUnavailable. The router forwards them to the leader first, so only
//    commands that reached the wrong replica (a stale forward) see that.
//  * Elected: loads every hold and lock-delay from etcd (orphaned, full leases),
//    fences start above the term, then serves. Deposed, or a write failed: forgets
//    all lock state (Engine::Reset), fails what waited, resigns and campaigns again.
//
// Threading: the CommandExecutor calls and state changes run on the engine's thread;
// the election calls in from its own thread and posts. Status() may be called from
// any thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/engine.h"
#include "core/executor.h"
#include "core/token_source.h"
#include "ha/options.h"
#include "runtime/engine_host.h"

namespace dflockd::ha {

class DurableLog;
class Election;
class EtcdClient;
struct LeaderInfo;

struct ReplicaOptions {
  EtcdOptions etcd;
  std::string prefix;     ///< e.g. /dflockd/0
  std::string advertise;  ///< this replica's native host:port, as the others dial it
  std::int64_t election_ttl_s = 2;
  DurableLogOptions log;  ///< its prefix is `prefix`
};

class Replica final : public core::CommandExecutor {
 public:
  /// Called on the engine's thread with the leader's address, or nullopt when this
  /// replica serves the keys itself or no leader is known (the router's SetLeader).
  using LeaderFn = std::function<void(std::optional<std::string> leader)>;

  Replica(boost::asio::io_context& io, runtime::EngineHost& host, core::Engine& engine,
          const core::Clock& clock, core::TokenSource& tokens, ReplicaOptions options);
  ~Replica() override;

  void OnLeaderChange(LeaderFn f) { on_leader_ = std::move(f); }
  void Start();
  /// At shutdown: resigns (another replica takes over at once) and campaigns no more,
  /// but keeps following the leader, so requests during the drain are forwarded.
  void Retire();
  /// Stops the election (revoking the lease if it still leads).
  void Stop();

  /// This replica's view, for stats, /v1/cluster and /readyz. Any thread.
  core::StatsSnapshot::Replication Status() const;
  bool serving() const { return serving_; }
  DurableLogCounters log_counters() const;
  /// Prometheus lines: role, writes, changes, failures (engine thread).
  std::string RenderMetrics() const;

  core::SessionId OpenSession(core::SessionSink* sink) override;
  void CloseSession(core::SessionId session) override;
  core::RequestId Submit(core::SessionId session, core::Command command,
                         core::Completion done) override;
  void Cancel(core::RequestId request) override { host_.Cancel(request); }
  void DescribeSession(core::SessionId session, core::SessionInfo info) override {
    host_.DescribeSession(session, std::move(info));
  }
  /// Watchers see a change only once it is committed (in engine order, behind the
  /// replies that wait for the same commit); a change a failed write undoes is never
  /// shown.
  core::Result<core::WatchId> Watch(std::string pattern, core::WatchSink* sink) override;
  void Unwatch(core::WatchId watch) override;

 private:
  struct Loaded;
  class ElectionEvents;
  class Sink;
  class CommittedWatch;

  // From the election thread.
  void Elected(std::int64_t term);
  void Deposed(const std::string& why);
  void LeaderSeen(const LeaderInfo& leader);

  // Engine thread.
  void Serve(std::int64_t term, Loaded& state);
  void StepDown(const std::string& why);
  void SetRole(const std::string& role, const std::string& leader, std::int64_t term);

  boost::asio::io_context& io_;
  runtime::EngineHost& host_;
  core::Engine& engine_;
  core::TokenSource& tokens_;
  ReplicaOptions options_;
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<DurableLog> log_;
  std::unique_ptr<ElectionEvents> events_;
  std::unique_ptr<Election> election_;
  LeaderFn on_leader_;
  std::unordered_map<core::SessionId, std::unique_ptr<Sink>> sinks_;
  std::unordered_map<core::WatchId, std::shared_ptr<CommittedWatch>> watches_;
  bool serving_ = false;  ///< engine thread
  std::int64_t serving_term_ = 0;
  std::int64_t fence_revision_ = 0;  ///< fences of this term are above it << 20

  mutable std::mutex status_mutex_;
  core::StatsSnapshot::Replication status_;
};

}  // namespace dflockd::ha
