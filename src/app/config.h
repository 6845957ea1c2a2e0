// Server configuration from flags and environment (§8 of the protocol): defaults,
// overridden by DFLOCKD_* environment variables, overridden by flags.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ha/options.h"

namespace dflockd::app {

struct Config {
  static inline const ha::DurableLogOptions kLogDefaults{};

  std::string host = "127.0.0.1";
  std::uint16_t port = 6388;
  std::uint16_t grpc_port = 6390;  ///< 0 disables the gRPC listener
  std::uint16_t http_port = 6389;  ///< 0 disables the HTTP/WebSocket listener
  std::int64_t default_lease_ttl_s = 33;
  std::int64_t lease_sweep_interval_s = 1;
  std::int64_t gc_interval_s = 5;
  std::int64_t gc_max_idle_s = 60;
  std::uint64_t max_locks = 1024;
  std::uint64_t max_connections = 0;
  std::uint64_t max_connections_per_ip = 0;
  std::uint64_t max_waiters = 0;
  std::uint64_t max_subscriptions = 0;
  std::uint64_t signal_queue_size = 64;
  std::int64_t read_timeout_s = 23;
  std::int64_t write_timeout_s = 5;
  std::int64_t shutdown_timeout_s = 30;
  bool auto_release_on_disconnect = true;
  std::string tls_cert;
  std::string tls_key;
  std::string auth_token;  ///< resolved: from --auth-token or the token file
  std::string fence_state_file;
  std::int64_t lock_delay_s = 0;      ///< 0 = off
  std::int64_t restart_grace_s = 0;   ///< 0 = off; applies after an unclean stop only
  std::int64_t max_lease_ttl_s = 0;   ///< 0 = the protocol's bound
  /// Sharded mode: every shard's native host:port, in client order (empty: off), and
  /// this process's index in it.
  std::vector<std::string> shards;
  std::size_t shard_self = 0;
  /// CA bundle for verifying other shards' TLS certificates; empty: --tls-cert itself.
  std::string shard_tls_ca;
  /// Durable mode (docs/ha.md): etcd members (empty: off), where this shard's state
  /// lives there, and how etcd is reached.
  std::vector<std::string> etcd_endpoints;
  std::string etcd_prefix;  ///< default /dflockd/<shard index>
  std::string etcd_user;
  std::string etcd_password;  ///< resolved: from --etcd-password or its file
  std::string etcd_ca;
  std::string etcd_cert;
  std::string etcd_key;
  std::int64_t election_ttl_s = 2;  ///< a dead leader is replaced within about this
  // The durable log's settings; defaults are the log's own (ha::DurableLogOptions).
  std::uint64_t etcd_max_txn_ops = kLogDefaults.max_txn_ops;  ///< etcd's --max-txn-ops
  std::uint64_t etcd_pipeline = kLogDefaults.max_in_flight;   ///< writes in flight to etcd
  /// How long a write may wait for more changes.
  std::int64_t etcd_batch_wait_us = kLogDefaults.batch_wait.count();
  /// How long changes may stay in the log.
  std::int64_t etcd_fold_interval_ms = kLogDefaults.fold_interval.count();
  /// Per write; then the outcome is read back.
  std::int64_t etcd_timeout_ms = kLogDefaults.txn_timeout.count();
  /// 0: leave compaction to etcd's own settings.
  std::int64_t etcd_compact_interval_s = kLogDefaults.compact_interval.count();
  /// This replica's native host:port as the other replicas dial it (durable mode).
  std::string advertise;
  bool debug = false;
  /// trace, debug, info, warn, error, critical or off; `debug = true` means debug.
  std::string log_level = "info";
};

/// The parsed configuration, or the process exit code when there is nothing to run
/// (`--help`, `--version`: 0; invalid configuration: 1, message already on stderr).
struct ParseResult {
  std::optional<Config> config;
  int exit_code = 0;
};

ParseResult ParseConfig(int argc, char** argv, const char* version);

}  // namespace dflockd::app
