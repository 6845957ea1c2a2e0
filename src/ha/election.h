// Leader election for one shard's replicas, on etcd: a lease kept alive by this
// replica and a Txn that creates `<prefix>/leader` (value: our native address) only if
// it does not exist. The key's create_revision names the term: every write of the
// leader compares it (DurableLog), so a replica that lost the key can never commit.
//
// Runs on a thread of its own (blocking etcd calls). A leader whose lease may have
// run out by its own clock (keep-alives failing, or the process paused past the TTL)
// reports Deposed before etcd could tell it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "ha/etcd_client.h"

namespace dflockd::ha {

struct ElectionOptions {
  std::string key;    ///< <prefix>/leader
  std::string value;  ///< this replica's native host:port
  std::int64_t ttl_s = 2;
  std::chrono::milliseconds poll{200};         ///< campaign / check interval
  std::chrono::milliseconds rpc_timeout{500};  ///< per etcd call
};

struct LeaderInfo {
  std::string address;        ///< empty: no leader
  std::int64_t revision = 0;  ///< the leader key's create_revision (the term)
  bool operator==(const LeaderInfo&) const = default;
};

class Election {
 public:
  /// Called on the election thread, in order.
  class Listener {
   public:
    virtual ~Listener() = default;
    /// We lead; `revision` is our key's create_revision. Blocking calls are allowed
    /// (the new leader loads its state here); keep-alives wait meanwhile.
    virtual void Elected(std::int64_t revision) = 0;
    /// We led and may not any more.
    virtual void Deposed(const std::string& why) = 0;
    /// Another replica leads (or, address empty, none does), as last seen.
    virtual void LeaderSeen(const LeaderInfo& leader) = 0;
  };

  Election(EtcdClient& etcd, ElectionOptions options, Listener& listener);
  ~Election();
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  void Start();
  /// Stops campaigning; a leader revokes its lease so another takes over at once.
  void Stop();
  /// From any thread: give up leadership now (revoke the lease) and campaign again.
  void Resign();
  /// From any thread: give up leadership and never campaign again, but keep reporting
  /// who leads (a replica that drains forwards to its successor).
  void Retire();

 private:
  void Run();
  void KeepLeaseAlive();
  void Campaign();
  void CheckStillLeader();
  /// Reads the election key and reports its holder (retired replicas).
  void Observe();
  void Depose(const std::string& why);
  void Publish(const LeaderInfo& leader);
  /// etcd did not answer: after a TTL of that, report that no leader is known.
  void Unreachable();
  void Sleep(std::chrono::milliseconds d);

  EtcdClient& etcd_;
  ElectionOptions options_;
  Listener& listener_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool resign_ = false;
  bool retired_ = false;
  // Election thread only:
  using Clock = std::chrono::steady_clock;
  std::int64_t lease_ = 0;
  Clock::time_point lease_expires_{};  ///< by our clock, from when the grant/keep-alive was sent
  Clock::time_point last_keepalive_{};
  Clock::time_point last_contact_{};  ///< the last campaign etcd answered
  Clock::time_point next_raft_leader_check_{};
  static constexpr std::chrono::seconds kRaftLeaderCheck{10};
  bool leader_ = false;
  std::int64_t term_ = 0;
  LeaderInfo seen_;
  bool seen_once_ = false;
};

}  // namespace dflockd::ha
