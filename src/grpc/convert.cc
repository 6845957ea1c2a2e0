#include "grpc/convert.h"

#include <limits>

#include "core/utf8.h"

namespace dflockd::grpc_api {
namespace {

core::Namespace NamespaceOf(const v1::Resource& r) {
  return r.kind() == v1::KIND_SEMAPHORE ? core::Namespace::kSemaphore : core::Namespace::kLock;
}

/// Locks always have limit 1; a semaphore's limit passes through to validation.
std::uint32_t LimitOf(const v1::Resource& r) {
  return r.kind() == v1::KIND_SEMAPHORE ? r.limit() : 1;
}

/// 0 means "the server default" in the proto; negatives reach validation and fail.
std::optional<std::int64_t> LeaseOf(std::int64_t lease) {
  return lease == 0 ? std::nullopt : std::optional<std::int64_t>(lease);
}

}  // namespace

bool KnownKind(const v1::Resource& r) {
  return r.kind() == v1::KIND_LOCK || r.kind() == v1::KIND_SEMAPHORE;
}

core::Command ToCommand(const v1::AcquireRequest& r) {
  core::Acquire c;
  c.ns = NamespaceOf(r.resource());
  c.key = r.resource().key();
  c.limit = LimitOf(r.resource());
  c.timeout_s = r.timeout_s();
  c.lease_s = LeaseOf(r.lease_ttl_s());
  if (r.has_lock_delay_s()) c.lock_delay_s = r.lock_delay_s();
  return c;
}

core::Command ToCommand(const v1::ReleaseRequest& r) {
  core::Release c;
  c.ns = NamespaceOf(r.resource());
  c.key = r.resource().key();
  c.token = core::ParseToken(r.token());
  return c;
}

core::Command ToCommand(const v1::RenewRequest& r) {
  core::Renew c;
  c.ns = NamespaceOf(r.resource());
  c.key = r.resource().key();
  c.token = core::ParseToken(r.token());
  c.lease_s = LeaseOf(r.lease_ttl_s());
  return c;
}

core::Command ToCommand(const v1::EnqueueRequest& r) {
  core::Enqueue c;
  c.ns = NamespaceOf(r.resource());
  c.key = r.resource().key();
  c.limit = LimitOf(r.resource());
  c.lease_s = LeaseOf(r.lease_ttl_s());
  if (r.has_lock_delay_s()) c.lock_delay_s = r.lock_delay_s();
  return c;
}

core::Command ToCommand(const v1::WaitRequest& r) {
  core::Wait c;
  c.ns = NamespaceOf(r.resource());
  c.key = r.resource().key();
  c.timeout_s = r.timeout_s();
  return c;
}

core::Command ToCommand(const v1::PublishRequest& r) {
  return core::Publish{r.channel(), r.payload()};
}

core::Command ToListen(const v1::Subscription& s) { return core::Listen{s.pattern(), s.group()}; }

core::Command ToUnlisten(const v1::Subscription& s) {
  return core::Unlisten{s.pattern(), s.group()};
}

void FillGrant(const core::Granted& g, v1::Grant* out) {
  out->set_token(core::FormatToken(g.token));
  out->set_lease_ttl_s(g.lease_s);
  out->set_fence(g.token.fence);
}

// Keys and subjects are bytes on the native protocol; protobuf strings must be UTF-8.
void FillStats(const core::StatsSnapshot& s, v1::StatsResponse* out) {
  out->set_connections(s.connections);
  out->set_keys_in_lock_delay(s.keys_in_lock_delay);
  out->set_restart_grace_remaining_s(s.restart_grace_remaining_s);
  out->set_fences_unavailable(s.fences_unavailable);
  for (const auto& l : s.locks) {
    auto* m = out->add_locks();
    m->set_key(core::ToValidUtf8(l.key));
    m->set_owner_conn_id(l.owner_session);
    m->set_lease_expires_in_s(l.lease_expires_in_s);
    m->set_waiters(l.waiters);
    m->set_lock_delay_remaining_s(l.lock_delay_remaining_s);
  }
  for (const auto& x : s.semaphores) {
    auto* m = out->add_semaphores();
    m->set_key(core::ToValidUtf8(x.key));
    m->set_limit(x.limit);
    m->set_holders(x.holders);
    m->set_waiters(x.waiters);
    m->set_delayed(x.delayed);
    m->set_lock_delay_remaining_s(x.lock_delay_remaining_s);
  }
  for (const auto& i : s.idle_locks) {
    auto* m = out->add_idle_locks();
    m->set_key(core::ToValidUtf8(i.key));
    m->set_idle_s(i.idle_s);
  }
  for (const auto& i : s.idle_semaphores) {
    auto* m = out->add_idle_semaphores();
    m->set_key(core::ToValidUtf8(i.key));
    m->set_idle_s(i.idle_s);
  }
  if (s.replication) {
    auto* c = out->mutable_cluster();
    c->set_mode("durable");
    c->set_role(s.replication->role);
    c->set_leader(s.replication->leader);
    c->set_term(s.replication->term);
    c->set_committed_revision(s.replication->committed_revision);
    c->set_etcd_endpoint(s.replication->store);
    c->set_etcd_healthy(s.replication->store_healthy);
  }
  for (const auto& shard : s.shards) {
    auto* m = out->add_shards();
    m->set_address(shard.address);
    m->set_reachable(shard.reachable);
    m->set_error(shard.error);
  }
  for (const auto& c : s.signal_channels) {
    auto* m = out->add_signal_channels();
    m->set_pattern(core::ToValidUtf8(c.pattern));
    m->set_group(core::ToValidUtf8(c.group));
    m->set_listeners(c.listeners);
  }
}

}  // namespace dflockd::grpc_api
