#include "queries.h"

#include <chrono>
#include <cstdio>
#include <iostream>

#include "dflockd/client/connection.h"
#include "dflockd/client/errors.h"

namespace dflockctl {
namespace {

void PrintTable(const dflockd::Stats& s) {
  std::printf("connections: %llu\n", static_cast<unsigned long long>(s.connections));
  std::printf("\nLOCKS (%zu)\n", s.locks.size());
  if (!s.locks.empty()) std::printf("  %-32s %8s %12s %8s\n", "KEY", "OWNER", "EXPIRES_IN", "WAITERS");
  for (const auto& l : s.locks) {
    std::printf("  %-32s %8llu %11.1fs %8llu\n", l.key.c_str(),
                static_cast<unsigned long long>(l.owner_conn_id), l.lease_expires_in_s,
                static_cast<unsigned long long>(l.waiters));
  }
  std::printf("\nSEMAPHORES (%zu)\n", s.semaphores.size());
  if (!s.semaphores.empty()) std::printf("  %-32s %8s %8s %8s\n", "KEY", "LIMIT", "HOLDERS", "WAITERS");
  for (const auto& m : s.semaphores) {
    std::printf("  %-32s %8llu %8llu %8llu\n", m.key.c_str(), static_cast<unsigned long long>(m.limit),
                static_cast<unsigned long long>(m.holders), static_cast<unsigned long long>(m.waiters));
  }
  std::printf("\nIDLE (%zu locks, %zu semaphores)\n", s.idle_locks.size(), s.idle_semaphores.size());
  for (const auto& i : s.idle_locks) std::printf("  lock %-32s idle %.1fs\n", i.key.c_str(), i.idle_s);
  for (const auto& i : s.idle_semaphores) {
    std::printf("  sem  %-32s idle %.1fs\n", i.key.c_str(), i.idle_s);
  }
  std::printf("\nSIGNAL CHANNELS (%zu)\n", s.signal_channels.size());
  if (!s.signal_channels.empty()) std::printf("  %-32s %-16s %9s\n", "PATTERN", "GROUP", "LISTENERS");
  for (const auto& c : s.signal_channels) {
    std::printf("  %-32s %-16s %9llu\n", c.pattern.c_str(), c.group.empty() ? "-" : c.group.c_str(),
                static_cast<unsigned long long>(c.listeners));
  }
}

}  // namespace

int PrintStats(const GlobalOptions& global, bool json) {
  auto servers = Servers(global);
  auto options = ConnectOptionsFrom(global);
  int rc = kOk;
  for (const auto& server : servers) {
    try {
      dflockd::Connection connection(server, options);
      auto s = dflockd::stats(connection);
      if (json && servers.size() == 1) {
        std::cout << s.json << '\n';
      } else if (json) {
        std::cout << "{\"server\":\"" << server.to_string() << "\",\"stats\":" << s.json << "}\n";
      } else {
        if (servers.size() > 1) std::cout << "== " << server.to_string() << '\n';
        PrintTable(s);
      }
    } catch (const dflockd::Error& e) {
      std::cerr << "dflockctl: " << server.to_string() << ": " << e.what() << '\n';
      rc = kFailure;
    }
  }
  return rc;
}

int Ping(const GlobalOptions& global) {
  auto options = ConnectOptionsFrom(global);
  int rc = kOk;
  for (const auto& server : Servers(global)) {
    try {
      dflockd::Connection connection(server, options);
      auto start = std::chrono::steady_clock::now();
      dflockd::ping(connection);
      std::chrono::duration<double, std::milli> rtt = std::chrono::steady_clock::now() - start;
      std::printf("%s: ok (%.3f ms)\n", server.to_string().c_str(), rtt.count());
    } catch (const dflockd::Error& e) {
      std::printf("%s: %s\n", server.to_string().c_str(), e.what());
      rc = kFailure;
    }
  }
  return rc;
}

int PrintTopology(const GlobalOptions& global) {
  auto shards = ClusterShards(global);
  if (shards.empty()) {
    std::cout << "not sharded: each server is independent\n";
    return kOk;
  }
  for (const auto& shard : shards) std::cout << shard.to_string() << '\n';
  return kOk;
}

}  // namespace dflockctl
