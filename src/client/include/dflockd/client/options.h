// Connection and lock options; defaults follow the seed clients' parameter tables.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dflockd/client/sharding.h"

namespace boost::asio::ssl {
class context;
}

namespace dflockd {

struct ServerAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6388;

  /// "host:port", "host" (port 6388) or "[v6addr]:port"; throws InvalidArgument.
  static ServerAddress parse(std::string_view text);
  std::string to_string() const;
  friend bool operator==(const ServerAddress&, const ServerAddress&) = default;
};

/// TLS for the native protocol. With `enabled` and no `context`, the client builds one
/// that trusts the system store (or `ca_file`) and checks the server's host name.
struct TlsOptions {
  bool enabled = false;
  std::string ca_file;       ///< PEM bundle to trust instead of the system store
  bool verify_peer = true;   ///< false: encrypt without checking who answers (testing only)
  std::string server_name;   ///< SNI and name to verify; empty → the server's host
  std::shared_ptr<boost::asio::ssl::context> context;  ///< your own context (wins over the above)
};

struct ConnectOptions {
  TlsOptions tls;
  std::optional<std::string> auth_token;  ///< sent as `auth` right after connecting
  std::chrono::milliseconds connect_timeout{10'000};
  /// How long a reply may take beyond the time the server is allowed to block
  /// (the acquire/wait timeout). Past it the connection is considered dead.
  std::chrono::milliseconds reply_timeout{10'000};
};

/// Called (once) when a held lock or semaphore slot is lost: a renewal was refused or
/// the connection that owns it dropped. `reason` is for humans.
using LostCallback = std::function<void(const std::string& key, const std::string& reason)>;

struct LockOptions {
  std::chrono::seconds acquire_timeout{10};
  std::optional<std::chrono::seconds> lease_ttl;  ///< empty: the server's default (33 s)
  std::vector<ServerAddress> servers{ServerAddress{}};
  ShardingStrategy sharding_strategy = stable_hash_shard;
  double renew_ratio = 0.5;  ///< renew every max(1 s, lease × ratio)
  ConnectOptions connection;
  LostCallback on_lost;
  /// Durable servers (--etcd-endpoints, docs/ha.md): a hold outlives the replica that
  /// granted it. When the connection holding the lock drops, or a renewal fails for
  /// want of a server, reconnect (to the key's server, then each of
  /// `failover_servers` in turn) and renew by token until the lease would have run
  /// out; the new connection adopts the hold. Only a refused renewal (the server no
  /// longer knows the token) or the lease running out is a loss. Leave it off for a
  /// single server: there a dropped connection has already released the lock.
  bool renew_after_disconnect = false;
  std::vector<ServerAddress> failover_servers;
};

struct SignalOptions {
  ServerAddress server;
  ConnectOptions connection;
  std::size_t buffer_capacity = 65'536;  ///< received signals kept until next(); more are dropped
  std::chrono::seconds heartbeat{15};    ///< ping interval that keeps the connection alive
};

}  // namespace dflockd
