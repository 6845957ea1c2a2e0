// Shared set-up for client tests that run against the real dflockd binary.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "dflockd/client.h"
#include "support/eventually.h"
#include "support/server_process.h"

namespace dflockd::testing {

inline ServerAddress AddressOf(const ServerProcess& server) {
  return {"127.0.0.1", static_cast<std::uint16_t>(server.native_port)};
}

inline LockOptions OptionsFor(const ServerProcess& server) {
  LockOptions options;
  options.servers = {AddressOf(server)};
  return options;
}

inline SignalOptions SignalOptionsFor(const ServerProcess& server) {
  SignalOptions options;
  options.server = AddressOf(server);
  return options;
}

/// Waiters queued on a lock key, as the server reports them.
inline std::uint64_t WaitersOn(const ServerProcess& server, const std::string& key) {
  Connection c(AddressOf(server));
  for (const auto& lock : stats(c).locks) {
    if (lock.key == key) return lock.waiters;
  }
  return 0;
}

/// One server per test suite (tests use distinct keys).
class ClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess& server() { return *server_; }
  static inline ServerProcess* server_ = nullptr;
};

}  // namespace dflockd::testing
