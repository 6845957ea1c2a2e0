// `dflockctl lock` and `dflockctl sem`: run a command while holding a lock.
#pragma once

#include <string>
#include <vector>

#include "common.h"

namespace dflockctl {

struct LockedCommand {
  std::string key;
  unsigned limit = 0;  // 0: a lock; otherwise a semaphore with this limit
  long long timeout_s = 10;
  long long lease_s = 0;  // 0: the server's default
  std::vector<std::string> argv;
  /// Durable servers: reconnect and renew by token when the connection drops.
  bool durable = false;
  std::vector<std::string> failover_servers;  ///< host:port, tried after the key's server
};

/// Acquires, runs argv (renewing the lease), releases; returns the exit status.
int RunLocked(const GlobalOptions& global, const LockedCommand& command);

}  // namespace dflockctl
