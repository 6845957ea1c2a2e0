// Durable mode's settings and counters, apart from the etcd and gRPC headers the
// classes that use them need (the app includes only this and replica.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace dflockd::ha {

struct EtcdOptions {
  std::vector<std::string> endpoints;  ///< host:port of each member
  std::string user;                    ///< empty: no authentication
  std::string password;
  std::string ca_file;    ///< TLS to etcd when set (or when cert_file is set)
  std::string cert_file;  ///< client certificate for etcd's --client-cert-auth
  std::string key_file;
};

struct DurableLogOptions {
  std::string prefix;
  std::size_t max_txn_ops = 128;  ///< etcd's --max-txn-ops (folds respect it)
  std::size_t max_in_flight = 4;  ///< writes pipelined (each on a worker thread)
  /// How long a write may wait for changes its clients are about to send (0: none).
  std::chrono::microseconds batch_wait{5000};
  /// Fold the log once this many entries wait, or when the fold timer finds any.
  std::size_t fold_entries = 128;
  std::chrono::milliseconds fold_interval{500};
  std::chrono::milliseconds txn_timeout{1000};
  /// How long an outcome-unknown Txn may take to resolve by reading back.
  std::chrono::milliseconds resolve_timeout{3000};
  /// Compact etcd's history this often, to the revision of the previous round (0: off).
  std::chrono::seconds compact_interval{5};
};

struct DurableLogCounters {
  std::uint64_t txns = 0;      ///< committed
  std::uint64_t changes = 0;   ///< records committed (after coalescing)
  std::uint64_t failures = 0;  ///< Txns that failed or could not be resolved
  std::uint64_t resolved = 0;  ///< outcome-unknown Txns resolved by reading back
  std::uint64_t folds = 0;     ///< log folds committed (entries turned into records)
  std::uint64_t fold_failures = 0;
  std::int64_t last_revision = 0;
};

}  // namespace dflockd::ha
