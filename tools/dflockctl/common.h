// Options every dflockctl command shares, and how they become client options.
#pragma once

#include <string>
#include <vector>

#include "dflockd/client/options.h"

namespace dflockctl {

struct GlobalOptions {
  std::vector<std::string> servers;  // host:port, repeatable; keys are sharded across them
  bool tls = false;
  std::string tls_ca;
  bool tls_insecure = false;
  std::string auth_token;
  std::string auth_token_file;
  double connect_timeout_s = 10;
  bool discover = false;  // replace `servers` by the shard list the first one reports
};

/// Exit statuses besides the wrapped command's own.
enum Exit : int {
  kOk = 0,
  kFailure = 1,        // connection, auth or server error
  kNotAcquired = 3,    // lock/sem: not granted within --timeout
  kLost = 4,           // lock/sem: the lock was lost while the command ran
  kCannotRun = 127,    // lock/sem: the command could not be started
};

std::vector<dflockd::ServerAddress> Servers(const GlobalOptions& global);
/// The shard list a sharded set reports (from the first server that answers), or
/// empty: the servers are independent (unsharded) dflockd servers.
std::vector<dflockd::ServerAddress> ClusterShards(const GlobalOptions& global);
dflockd::ConnectOptions ConnectOptionsFrom(const GlobalOptions& global);

}  // namespace dflockctl
