#include "ha/election.h"

#include <spdlog/spdlog.h>

namespace dflockd::ha {

Election::Election(EtcdClient& etcd, ElectionOptions options, Listener& listener)
    : etcd_(etcd), options_(std::move(options)), listener_(listener) {}

Election::~Election() { Stop(); }

void Election::Start() { thread_ = std::thread([this] { Run(); }); }

void Election::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Election::Resign() {
  {
    std::lock_guard lock(mutex_);
    resign_ = true;
  }
  wake_.notify_all();
}

void Election::Retire() {
  {
    std::lock_guard lock(mutex_);
    resign_ = true;
    retired_ = true;
  }
  wake_.notify_all();
}

void Election::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, d, [this] { return stopping_ || resign_; });
}

void Election::Run() {
  for (;;) {
    bool resign, retired;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      resign = std::exchange(resign_, false);
      retired = retired_;
    }
    if (resign && lease_ != 0) {
      // Revoking deletes our key at once: the next leader need not wait out the TTL,
      // and a write of ours still in flight fails its compare.
      etcd_.LeaseRevoke(lease_, options_.rpc_timeout);
      lease_ = 0;
      if (leader_) Depose("resigned");
    }
    if (retired) {
      Observe();
      Sleep(options_.poll);
      continue;
    }
    if (Clock::now() >= next_raft_leader_check_) {
      // etcd's leader moves (elections, restarts): look again now and then.
      etcd_.PreferRaftLeader(options_.rpc_timeout);
      next_raft_leader_check_ = Clock::now() + kRaftLeaderCheck;
    }
    KeepLeaseAlive();
    if (leader_ && Clock::now() >= lease_expires_) {
      Depose("lease may have expired (no keep-alive answered within the TTL)");
    }
    if (lease_ != 0 && !leader_) Campaign();
    if (leader_) CheckStillLeader();
    Sleep(options_.poll);
  }
  if (lease_ != 0) {
    etcd_.LeaseRevoke(lease_, options_.rpc_timeout);
    lease_ = 0;
  }
  if (leader_) Depose("stopped");
}

void Election::KeepLeaseAlive() {
  const auto sent = Clock::now();
  if (lease_ == 0) {
    std::int64_t id = 0, ttl = 0;
    EtcdStatus s = etcd_.LeaseGrant(options_.ttl_s, &id, &ttl, options_.rpc_timeout);
    if (!s.ok()) {
      spdlog::debug("etcd: lease grant failed: {}", s.ToString());
      Unreachable();
      return;
    }
    lease_ = id;
    lease_expires_ = sent + std::chrono::seconds(ttl);
    last_keepalive_ = sent;
    return;
  }
  // A third of the TTL between keep-alives leaves two more tries before it runs out.
  if (sent - last_keepalive_ < std::chrono::seconds(options_.ttl_s) / 3) return;
  std::int64_t ttl = 0;
  EtcdStatus s = etcd_.LeaseKeepAlive(lease_, &ttl, options_.rpc_timeout);
  if (s.ok() && ttl > 0) {
    lease_expires_ = sent + std::chrono::seconds(ttl);
    last_keepalive_ = sent;
    return;
  }
  if (s.ok() || Clock::now() >= lease_expires_) {
    spdlog::warn("etcd: election lease lost ({})", s.ok() ? "expired" : s.ToString());
    lease_ = 0;
    if (leader_) Depose("election lease expired");
  }
}

void Election::Campaign() {
  etcdserverpb::TxnRequest txn;
  auto* cmp = txn.add_compare();
  cmp->set_key(options_.key);
  cmp->set_target(etcdserverpb::Compare::CREATE);
  cmp->set_result(etcdserverpb::Compare::EQUAL);
  cmp->set_create_revision(0);
  auto* put = txn.add_success()->mutable_request_put();
  put->set_key(options_.key);
  put->set_value(options_.value);
  put->set_lease(lease_);
  txn.add_failure()->mutable_request_range()->set_key(options_.key);
  etcdserverpb::TxnResponse resp;
  EtcdStatus s = etcd_.Txn(txn, &resp, options_.rpc_timeout);
  if (s.ok()) last_contact_ = Clock::now();
  if (!s.ok()) {
    spdlog::debug("etcd: campaign failed: {}", s.ToString());
    Unreachable();
    return;
  }
  if (resp.succeeded()) {
    leader_ = true;
    term_ = resp.header().revision();
    spdlog::info("elected leader of {} (term {})", options_.key, term_);
    Publish(LeaderInfo{options_.value, term_});
    listener_.Elected(term_);
    return;
  }
  LeaderInfo seen;
  if (resp.responses_size() > 0 && resp.responses(0).response_range().kvs_size() > 0) {
    const auto& kv = resp.responses(0).response_range().kvs(0);
    seen = LeaderInfo{kv.value(), kv.create_revision()};
  }
  Publish(seen);
}

void Election::CheckStillLeader() {
  etcdserverpb::RangeRequest req;
  req.set_key(options_.key);
  etcdserverpb::RangeResponse resp;
  EtcdStatus s = etcd_.Range(req, &resp, options_.rpc_timeout);
  if (!s.ok()) return;  // the lease clock decides while etcd does not answer
  if (resp.kvs_size() == 0 || resp.kvs(0).create_revision() != term_) {
    Depose("the election key changed hands");
  }
}

void Election::Observe() {
  etcdserverpb::RangeRequest req;
  req.set_key(options_.key);
  etcdserverpb::RangeResponse resp;
  EtcdStatus s = etcd_.Range(req, &resp, options_.rpc_timeout);
  if (!s.ok()) return;
  LeaderInfo seen;
  if (resp.kvs_size() > 0) seen = LeaderInfo{resp.kvs(0).value(), resp.kvs(0).create_revision()};
  Publish(seen);
}

void Election::Depose(const std::string& why) {
  leader_ = false;
  spdlog::warn("no longer leader of {} (term {}): {}", options_.key, term_, why);
  listener_.Deposed(why);
  if (lease_ != 0) {
    etcd_.LeaseRevoke(lease_, options_.rpc_timeout);  // our key must not linger
    lease_ = 0;
  }
  Publish(LeaderInfo{});
}

void Election::Unreachable() {
  // One failed call is not news; after a TTL without etcd, whoever led may be gone.
  if (Clock::now() - last_contact_ > std::chrono::seconds(options_.ttl_s)) Publish(LeaderInfo{});
}

void Election::Publish(const LeaderInfo& leader) {
  if (seen_once_ && leader == seen_) return;
  seen_ = leader;
  seen_once_ = true;
  listener_.LeaderSeen(leader);
}

}  // namespace dflockd::ha
