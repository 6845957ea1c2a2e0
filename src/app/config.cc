#include "app/config.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>

#include "cluster/topology.h"
#include "core/validation.h"
#include "io/read_file.h"

namespace dflockd::app {
namespace {

/// Older dflockd releases used these names; the documented name wins if both are set.
void ApplyEnvAliases() {
  const std::pair<const char*, const char*> kAliases[] = {
      {"DFLOCKD_GC_INTERVAL_S", "DFLOCKD_GC_LOOP_SLEEP"},
      {"DFLOCKD_GC_MAX_IDLE_S", "DFLOCKD_GC_MAX_UNUSED_TIME"},
  };
  for (const auto& [name, alias] : kAliases) {
    const char* value = std::getenv(alias);
    if (std::getenv(name) == nullptr && value != nullptr) setenv(name, value, 0);
  }
}

std::string Trim(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {};
  auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

/// Throws CLI::ValidationError with a message naming the setting.
void Require(bool ok, const std::string& message) {
  if (!ok) throw CLI::ValidationError(message);
}

/// `--shard-self`: an index, or `auto` for the ordinal at the end of the host name
/// (a StatefulSet pod `dflockd-2` is shard 2).
std::size_t ShardSelf(const std::string& value) {
  std::string digits = value;
  if (value == "auto") {
    char host[256] = {};
    Require(::gethostname(host, sizeof host - 1) == 0, "--shard-self auto: no host name");
    std::string name(host);
    auto dash = name.rfind('-');
    Require(dash != std::string::npos, "--shard-self auto: host name " + name + " has no -<ordinal>");
    digits = name.substr(dash + 1);
  }
  Require(!digits.empty() && digits.size() < 6 &&
              digits.find_first_not_of("0123456789") == std::string::npos,
          "--shard-self must be a shard index or auto (got " + value + ")");
  return static_cast<std::size_t>(std::stoul(digits));
}

void ValidateShards(Config& c, const std::string& shards, const std::string& self) {
  if (shards.empty()) {
    Require(self.empty(), "--shard-self needs --shards");
    return;
  }
  try {
    c.shards = cluster::ParseShardList(shards);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(std::string("--shards: ") + e.what());
  }
  Require(!self.empty(), "--shards needs --shard-self (this process's index in the list)");
  c.shard_self = ShardSelf(self);
  Require(c.shard_self < c.shards.size(),
          "--shard-self " + std::to_string(c.shard_self) + " is outside the shard list (" +
              std::to_string(c.shards.size()) + " entries)");
}

std::string ReadSecretFile(const std::string& path, const std::string& flag) {
  std::string content;
  try {
    content = io::ReadFile(path);
  } catch (const std::runtime_error&) {
    Require(false, "cannot read " + flag + " " + path);
  }
  std::string value = Trim(content);
  Require(!value.empty(), flag + " " + path + " is empty");
  return value;
}

void Validate(Config& c, const std::string& auth_token_file) {
  Require(c.port != 0, "--port must be between 1 and 65535");
  Require(c.default_lease_ttl_s >= 1 && c.default_lease_ttl_s <= core::kMaxLeaseS,
          "--default-lease-ttl must be between 1 and 9223372036 seconds");
  Require(c.lease_sweep_interval_s >= 1, "--lease-sweep-interval must be at least 1 second");
  Require(c.gc_interval_s >= 1, "--gc-interval must be at least 1 second");
  Require(c.gc_max_idle_s >= 0, "--gc-max-idle must not be negative");
  Require(c.max_locks >= 1, "--max-locks must be at least 1");
  Require(c.signal_queue_size >= 1, "--signal-queue-size must be at least 1");
  Require(c.read_timeout_s >= 1, "--read-timeout must be at least 1 second");
  Require(c.write_timeout_s >= 1, "--write-timeout must be at least 1 second");
  Require(c.shutdown_timeout_s >= 0, "--shutdown-timeout must not be negative");
  Require(c.lock_delay_s >= 0 && c.lock_delay_s <= core::kMaxLeaseS,
          "--lock-delay must be between 0 and 9223372036 seconds");
  Require(c.restart_grace_s >= 0 && c.restart_grace_s <= core::kMaxLeaseS,
          "--restart-grace must be between 0 and 9223372036 seconds");
  Require(c.max_lease_ttl_s >= 0 && c.max_lease_ttl_s <= core::kMaxLeaseS,
          "--max-lease-ttl must be between 0 and 9223372036 seconds");
  if (c.max_lease_ttl_s != 0) {
    Require(c.default_lease_ttl_s <= c.max_lease_ttl_s,
            "--default-lease-ttl must not exceed --max-lease-ttl");
    Require(c.lock_delay_s <= c.max_lease_ttl_s, "--lock-delay must not exceed --max-lease-ttl");
  }
  Require(c.restart_grace_s == 0 || !c.fence_state_file.empty(),
          "--restart-grace needs --fence-state-file (it records whether the last stop was clean)");
  Require(c.tls_cert.empty() == c.tls_key.empty(),
          "--tls-cert and --tls-key must be given together");
  if (!auth_token_file.empty()) {
    Require(c.auth_token.empty(), "use either --auth-token or --auth-token-file, not both");
    c.auth_token = ReadSecretFile(auth_token_file, "--auth-token-file");
  }
  Require(c.auth_token.find_first_of("\r\n") == std::string::npos,
          "--auth-token must be a single line");
}

void ValidateDurable(Config& c, const std::string& endpoints, const std::string& password_file) {
  if (endpoints.empty()) {
    Require(c.etcd_prefix.empty() && c.etcd_user.empty() && password_file.empty() &&
                c.etcd_ca.empty() && c.etcd_cert.empty() && c.advertise.empty(),
            "the --etcd-* and --advertise-address options need --etcd-endpoints");
    return;
  }
  try {
    c.etcd_endpoints = cluster::ParseShardList(endpoints);  // the same host:port rules
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(std::string("--etcd-endpoints: ") + e.what());
  }
  Require(c.fence_state_file.empty() && c.restart_grace_s == 0,
          "durable mode keeps fences and holds in etcd: --fence-state-file and --restart-grace "
          "do not apply");
  Require(c.election_ttl_s >= 1 && c.election_ttl_s <= 60, "--election-ttl must be 1..60 seconds");
  Require(c.etcd_max_txn_ops >= 2, "--etcd-max-txn-ops must be at least 2");
  Require(c.etcd_pipeline >= 1 && c.etcd_pipeline <= 64, "--etcd-pipeline must be 1..64");
  Require(c.etcd_batch_wait_us >= 0 && c.etcd_batch_wait_us <= 100000,
          "--etcd-batch-wait must be 0..100000 (microseconds)");
  Require(c.etcd_fold_interval_ms >= 10, "--etcd-fold-interval must be at least 10 (ms)");
  Require(c.etcd_timeout_ms >= 50, "--etcd-timeout must be at least 50 ms");
  Require(c.etcd_compact_interval_s >= 0, "--etcd-compact-interval must not be negative");
  Require(c.etcd_cert.empty() == c.etcd_key.empty(),
          "--etcd-cert and --etcd-key must be given together");
  if (!password_file.empty()) {
    Require(c.etcd_password.empty(), "use either --etcd-password or --etcd-password-file");
    c.etcd_password = ReadSecretFile(password_file, "--etcd-password-file");
  }
  Require(c.etcd_user.empty() == c.etcd_password.empty(),
          "--etcd-user needs a password (--etcd-password or --etcd-password-file)");
  if (c.etcd_prefix.empty()) c.etcd_prefix = "/dflockd/" + std::to_string(c.shard_self);
  Require(c.etcd_prefix.front() == '/' && c.etcd_prefix.back() != '/',
          "--etcd-prefix must start with / and not end with one");
  if (c.advertise.empty()) {
    Require(c.host != "0.0.0.0" && c.host != "::" && !c.host.empty(),
            "durable mode on a wildcard --host needs --advertise-address (how the other "
            "replicas reach this one, e.g. $(POD_IP):6388)");
    const bool v6 = c.host.find(':') != std::string::npos;
    c.advertise = (v6 ? "[" + c.host + "]" : c.host) + ":" + std::to_string(c.port);
  }
  try {
    cluster::ParseShardList(c.advertise);
  } catch (const std::invalid_argument& e) {
    throw CLI::ValidationError(std::string("--advertise-address: ") + e.what());
  }
}

}  // namespace

ParseResult ParseConfig(int argc, char** argv, const char* version) {
  ApplyEnvAliases();
  Config c;
  std::string auth_token_file;
  std::string shards;
  std::string shard_self;
  std::string etcd_endpoints;
  std::string etcd_password_file;
  CLI::App app{"dflockd: distributed lock, semaphore and signal server"};
  app.set_version_flag("--version", std::string("dflockd ") + version);
  app.get_formatter()->column_width(44);

  app.add_option("--host", c.host, "Bind address")->envname("DFLOCKD_HOST")->capture_default_str();
  app.add_option("--port", c.port, "Native protocol port")
      ->envname("DFLOCKD_PORT")->capture_default_str();
  app.add_option("--http-port", c.http_port, "HTTP/WebSocket port (0 disables)")
      ->envname("DFLOCKD_HTTP_PORT")->capture_default_str();
  app.add_option("--grpc-port", c.grpc_port, "gRPC port (0 disables)")
      ->envname("DFLOCKD_GRPC_PORT")->capture_default_str();
  app.add_option("--default-lease-ttl", c.default_lease_ttl_s, "Default lease (s)")
      ->envname("DFLOCKD_DEFAULT_LEASE_TTL_S")->capture_default_str();
  app.add_option("--lease-sweep-interval", c.lease_sweep_interval_s,
                 "Upper bound (s) on how late an expired lease is reclaimed")
      ->envname("DFLOCKD_LEASE_SWEEP_INTERVAL_S")->capture_default_str();
  app.add_option("--gc-interval", c.gc_interval_s, "Idle-state GC period (s)")
      ->envname("DFLOCKD_GC_INTERVAL_S")->capture_default_str();
  app.add_option("--gc-max-idle", c.gc_max_idle_s, "Idle time (s) before state is collected")
      ->envname("DFLOCKD_GC_MAX_IDLE_S")->capture_default_str();
  app.add_option("--max-locks", c.max_locks, "Max lock+semaphore keys, idle ones included")
      ->envname("DFLOCKD_MAX_LOCKS")->capture_default_str();
  app.add_option("--max-connections", c.max_connections, "Max connections (0 = unlimited)")
      ->envname("DFLOCKD_MAX_CONNECTIONS")->capture_default_str();
  app.add_option("--max-connections-per-ip", c.max_connections_per_ip,
                 "Max connections per client IP (0 = unlimited)")
      ->envname("DFLOCKD_MAX_CONNECTIONS_PER_IP")->capture_default_str();
  app.add_option("--max-waiters", c.max_waiters, "Max waiters per key (0 = unlimited)")
      ->envname("DFLOCKD_MAX_WAITERS")->capture_default_str();
  app.add_option("--max-subscriptions", c.max_subscriptions,
                 "Max signal subscriptions per connection (0 = unlimited)")
      ->envname("DFLOCKD_MAX_SUBSCRIPTIONS")->capture_default_str();
  app.add_option("--signal-queue-size", c.signal_queue_size,
                 "Signal frames queued per connection before it counts as slow")
      ->envname("DFLOCKD_SIGNAL_QUEUE_SIZE")->capture_default_str();
  app.add_option("--read-timeout", c.read_timeout_s, "Idle read timeout (s)")
      ->envname("DFLOCKD_READ_TIMEOUT_S")->capture_default_str();
  app.add_option("--write-timeout", c.write_timeout_s, "Write timeout (s)")
      ->envname("DFLOCKD_WRITE_TIMEOUT_S")->capture_default_str();
  app.add_option("--shutdown-timeout", c.shutdown_timeout_s,
                 "Seconds to drain before connections are force-closed")
      ->envname("DFLOCKD_SHUTDOWN_TIMEOUT_S")->capture_default_str();
  app.add_flag("--auto-release-on-disconnect{true}", c.auto_release_on_disconnect,
               "Release a connection's holds when it closes (true/false)")
      ->envname("DFLOCKD_AUTO_RELEASE_ON_DISCONNECT")->capture_default_str();
  app.add_option("--tls-cert", c.tls_cert, "TLS certificate chain (PEM)")
      ->envname("DFLOCKD_TLS_CERT");
  app.add_option("--tls-key", c.tls_key, "TLS private key (PEM)")->envname("DFLOCKD_TLS_KEY");
  app.add_option("--auth-token", c.auth_token, "Shared secret clients must present")
      ->envname("DFLOCKD_AUTH_TOKEN");
  app.add_option("--auth-token-file", auth_token_file, "File holding the auth token")
      ->envname("DFLOCKD_AUTH_TOKEN_FILE");
  app.add_option("--fence-state-file", c.fence_state_file,
                 "File persisting the fence high-water mark across restarts")
      ->envname("DFLOCKD_FENCE_STATE_FILE");
  app.add_option("--lock-delay", c.lock_delay_s,
                 "Seconds a key grants nothing after a hold ends without a release (0 = off)")
      ->envname("DFLOCKD_LOCK_DELAY_S")->capture_default_str();
  app.add_option("--restart-grace", c.restart_grace_s,
                 "Seconds grants are held back after an unclean stop (0 = off)")
      ->envname("DFLOCKD_RESTART_GRACE_S")->capture_default_str();
  app.add_option("--max-lease-ttl", c.max_lease_ttl_s,
                 "Longest lease (and lock-delay) a client may ask for (0 = no cap)")
      ->envname("DFLOCKD_MAX_LEASE_TTL_S")->capture_default_str();
  app.add_option("--shards", shards,
                 "Sharded mode: every shard's native host:port, in the order clients use")
      ->envname("DFLOCKD_SHARDS");
  app.add_option("--shard-self", shard_self,
                 "This process's index in --shards (0-based), or auto (host name ordinal)")
      ->envname("DFLOCKD_SHARD_SELF");
  app.add_option("--shard-tls-ca", c.shard_tls_ca,
                 "CA bundle to verify other shards' certificates (default: --tls-cert)")
      ->envname("DFLOCKD_SHARD_TLS_CA");
  app.add_option("--etcd-endpoints", etcd_endpoints,
                 "Durable mode: etcd members host:port,... (holds survive losing a replica)")
      ->envname("DFLOCKD_ETCD_ENDPOINTS");
  app.add_option("--etcd-prefix", c.etcd_prefix, "Key prefix of this shard (default /dflockd/<shard>)")
      ->envname("DFLOCKD_ETCD_PREFIX");
  app.add_option("--etcd-user", c.etcd_user, "etcd user name")->envname("DFLOCKD_ETCD_USER");
  app.add_option("--etcd-password", c.etcd_password, "etcd password")
      ->envname("DFLOCKD_ETCD_PASSWORD");
  app.add_option("--etcd-password-file", etcd_password_file, "File holding the etcd password")
      ->envname("DFLOCKD_ETCD_PASSWORD_FILE");
  app.add_option("--etcd-ca", c.etcd_ca, "CA bundle for etcd's TLS (turns TLS to etcd on)")
      ->envname("DFLOCKD_ETCD_CA");
  app.add_option("--etcd-cert", c.etcd_cert, "Client certificate for etcd (PEM)")
      ->envname("DFLOCKD_ETCD_CERT");
  app.add_option("--etcd-key", c.etcd_key, "Client key for etcd (PEM)")->envname("DFLOCKD_ETCD_KEY");
  app.add_option("--election-ttl", c.election_ttl_s,
                 "Leader lease (s): a dead leader is replaced within about this")
      ->envname("DFLOCKD_ELECTION_TTL_S")->capture_default_str();
  app.add_option("--etcd-max-txn-ops", c.etcd_max_txn_ops, "etcd's --max-txn-ops")
      ->envname("DFLOCKD_ETCD_MAX_TXN_OPS")->capture_default_str();
  app.add_option("--etcd-pipeline", c.etcd_pipeline,
                 "Writes (Txns) in flight to etcd at once; none shares a key")
      ->envname("DFLOCKD_ETCD_PIPELINE")->capture_default_str();
  app.add_option("--etcd-batch-wait", c.etcd_batch_wait_us,
                 "Microseconds a write may wait for the changes its clients are about to send")
      ->envname("DFLOCKD_ETCD_BATCH_WAIT_US")->capture_default_str();
  app.add_option("--etcd-fold-interval", c.etcd_fold_interval_ms,
                 "Milliseconds committed changes may stay in the log before becoming records")
      ->envname("DFLOCKD_ETCD_FOLD_INTERVAL_MS")->capture_default_str();
  app.add_option("--etcd-timeout", c.etcd_timeout_ms,
                 "Milliseconds a write may take before its outcome is read back")
      ->envname("DFLOCKD_ETCD_TIMEOUT_MS")->capture_default_str();
  app.add_option("--etcd-compact-interval", c.etcd_compact_interval_s,
                 "Compact etcd's history this often (s; 0 = leave it to etcd)")
      ->envname("DFLOCKD_ETCD_COMPACT_INTERVAL_S")->capture_default_str();
  app.add_option("--advertise-address", c.advertise,
                 "Durable mode: this replica's native host:port for the other replicas")
      ->envname("DFLOCKD_ADVERTISE_ADDRESS");
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error, critical or off")
      ->envname("DFLOCKD_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_flag("--debug{true}", c.debug, "Debug logging (same as --log-level debug)")
      ->envname("DFLOCKD_DEBUG");

  try {
    app.parse(argc, argv);
    Validate(c, auth_token_file);
    ValidateShards(c, shards, shard_self);
    ValidateDurable(c, etcd_endpoints, etcd_password_file);
    if (c.debug) c.log_level = "debug";
  } catch (const CLI::Success& e) {
    return {std::nullopt, app.exit(e)};
  } catch (const CLI::ParseError& e) {
    std::cerr << "dflockd: invalid configuration: " << e.what() << "\n";
    return {std::nullopt, 1};
  }
  return {c, 0};
}

}  // namespace dflockd::app
