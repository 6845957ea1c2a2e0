// dflockctl: locks, semaphores, stats and signals from the shell.
#include <CLI/CLI.hpp>

#include <iostream>

#include "common.h"
#include "dflockd/client/errors.h"
#include "queries.h"
#include "run_locked.h"
#include "signals.h"

namespace {

constexpr const char* kDescription = R"(dflockctl - command-line client for dflockd

Takes distributed locks and semaphores around shell commands, reads server
stats, and publishes or follows signals, over dflockd's native protocol.)";

constexpr const char* kFooter = R"(
EXAMPLES
  dflockctl lock nightly-backup -- /usr/local/bin/backup.sh
  dflockctl sem gpu-pool -n 4 --timeout 60 -- python3 train.py
  dflockctl --server a:6388 --server b:6388 lock report -- make report
  dflockctl stats --json
  dflockctl listen 'events.>' --group workers
  dflockctl emit events.user.login alice

SHARDING
  With several --server options, a lock key goes to server
  crc32(key) % count, exactly as the Python, Go and C++ clients route it.
  emit sends a channel to its shard the same way (crc32(channel) % count);
  listen subscribes on every server, so each signal arrives once; with a
  sharded set (servers started with --shards) it listens through the first
  server only, since the set registers the subscription on every shard itself.
  --discover replaces the server list by the one a sharded set reports
  (`dflockctl topology` prints it). stats and ping ask every server.

ENVIRONMENT
  DFLOCKCTL_SERVERS          servers, comma-separated (default 127.0.0.1:6388)
  DFLOCKCTL_DISCOVER         1: use the shard list the first server reports
  DFLOCKCTL_AUTH_TOKEN       auth token
  DFLOCKCTL_AUTH_TOKEN_FILE  file holding the auth token
  DFLOCKCTL_TLS              1/true: connect with TLS
  DFLOCKCTL_TLS_CA           PEM file of CAs to trust (implies TLS)
  Command-line options override the environment.

EXIT STATUS
  lock/sem: the command's own status (128+N if it died of signal N),
  3 if the lock was not granted within --timeout, 4 if the lock was lost
  while the command ran (the command is sent SIGTERM), 127 if the command
  could not be started. Other commands: 0 on success, 1 on any error.
  Usage errors exit with CLI11's codes (non-zero).
)";

}  // namespace

int main(int argc, char** argv) {
  dflockctl::GlobalOptions global;
  CLI::App app(kDescription, "dflockctl");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.add_option("-s,--server", global.servers, "server host:port (repeatable; keys are sharded)")
      ->envname("DFLOCKCTL_SERVERS")
      ->delimiter(',');
  app.add_flag("--tls", global.tls, "use TLS (verifies the server against the system CAs)")
      ->envname("DFLOCKCTL_TLS");
  app.add_option("--tls-ca", global.tls_ca, "PEM file of CAs to trust (implies --tls)")
      ->envname("DFLOCKCTL_TLS_CA");
  app.add_flag("--tls-insecure", global.tls_insecure,
               "use TLS without verifying the server (testing only)");
  auto* token = app.add_option("--auth-token", global.auth_token, "auth token")
                    ->envname("DFLOCKCTL_AUTH_TOKEN");
  app.add_option("--auth-token-file", global.auth_token_file, "read the auth token from a file")
      ->envname("DFLOCKCTL_AUTH_TOKEN_FILE")
      ->excludes(token);
  app.add_flag("--discover", global.discover,
               "ask the first server for the shard list of a sharded set and use it")
      ->envname("DFLOCKCTL_DISCOVER");
  app.add_option("--connect-timeout", global.connect_timeout_s, "seconds to wait for a connection")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  dflockctl::LockedCommand locked;
  auto add_locked_options = [&](CLI::App* sub) {
    sub->add_option("key", locked.key, "lock name")->required();
    sub->add_option("--timeout,-t", locked.timeout_s, "seconds to wait for the grant (0: try once)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--lease,-l", locked.lease_s,
                    "lease in seconds (renewed in the background; default: the server's)")
        ->check(CLI::PositiveNumber);
    sub->add_flag("--durable", locked.durable,
                  "durable servers (etcd): if the connection drops, reconnect and renew by "
                  "token instead of giving the lock up")
        ->envname("DFLOCKCTL_DURABLE");
    sub->add_option("--failover-server", locked.failover_servers,
                    "with --durable: other replicas to reconnect through (repeatable)")
        ->envname("DFLOCKCTL_FAILOVER_SERVERS")
        ->delimiter(',')
        ->allow_extra_args(false);  // one value per occurrence: the command follows
    sub->add_option("command", locked.argv, "the command to run, after --")->required();
  };
  auto* lock = app.add_subcommand("lock", "run a command while holding a lock: lock KEY -- CMD ARGS...");
  add_locked_options(lock);
  auto* sem = app.add_subcommand("sem", "run a command holding one of LIMIT slots: sem KEY -n LIMIT -- CMD");
  add_locked_options(sem);
  sem->add_option("-n,--limit", locked.limit, "maximum concurrent holders")
      ->required()
      ->check(CLI::Range(1, 1048576));

  bool json = false;
  auto* stats = app.add_subcommand("stats", "show the server's locks, semaphores and channels");
  stats->add_flag("--json", json, "print the server's JSON instead of tables");

  std::string channel;
  std::string payload;
  auto* emit = app.add_subcommand("emit", "publish a signal; prints how many listeners got it");
  emit->add_option("channel", channel, "channel, e.g. events.user.login")->required();
  emit->add_option("payload", payload, "payload text")->required();

  std::string pattern;
  std::string group;
  long long count = 0;
  auto* listen = app.add_subcommand("listen", "print signals as they arrive (`<channel> <payload>`)");
  listen->add_option("pattern", pattern, "pattern: * matches one token, > the rest")->required();
  listen->add_option("-g,--group", group, "queue group: each signal goes to one member");
  listen->add_option("-c,--count", count, "exit after this many signals")->check(CLI::PositiveNumber);

  auto* topology = app.add_subcommand("topology", "print the shard list of a sharded set (one per line)");
  auto* ping = app.add_subcommand("ping", "check that every server answers; prints round-trip times");

  CLI11_PARSE(app, argc, argv);

  try {
    if (lock->parsed()) return dflockctl::RunLocked(global, locked);
    if (sem->parsed()) return dflockctl::RunLocked(global, locked);
    if (stats->parsed()) return dflockctl::PrintStats(global, json);
    if (emit->parsed()) return dflockctl::Emit(global, channel, payload);
    if (listen->parsed()) return dflockctl::Listen(global, pattern, group, count);
    if (ping->parsed()) return dflockctl::Ping(global);
    if (topology->parsed()) return dflockctl::PrintTopology(global);
  } catch (const dflockd::Error& e) {
    std::cerr << "dflockctl: " << e.what() << '\n';
    return dflockctl::kFailure;
  }
  return dflockctl::kFailure;
}
