// A blocking native-protocol connection and the low-level protocol functions, for
// users who manage connections themselves (see the seeds' "Low-level functions").
//
//   dflockd::Connection c({"127.0.0.1", 6388});
//   auto grant = dflockd::acquire(c, "my-key", std::chrono::seconds(10));
//   dflockd::renew(c, "my-key", grant.token);
//   dflockd::release(c, "my-key", grant.token);
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd {

class Connection {
 public:
  /// Connects at once (TLS and auth as configured); throws ConnectionError/AuthError.
  // Overloads, not default arguments of class type: GCC 12 copies such a default
  // bitwise when the call sits in a coroutine, leaving strings that point at freed memory.
  Connection();  ///< 127.0.0.1:6388
  explicit Connection(ServerAddress server);
  Connection(ServerAddress server, ConnectOptions options);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  /// Sends one framed request and returns the reply line (without its newline).
  std::string call(std::string request, std::chrono::seconds server_wait = {});
  bool is_open() const;
  void close();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

Grant acquire(Connection& c, std::string_view key, std::chrono::seconds timeout,
              std::optional<std::chrono::seconds> lease_ttl = {});
void release(Connection& c, std::string_view key, std::string_view token);
std::int64_t renew(Connection& c, std::string_view key, std::string_view token,
                   std::optional<std::chrono::seconds> lease_ttl = {});
EnqueueResult enqueue(Connection& c, std::string_view key,
                      std::optional<std::chrono::seconds> lease_ttl = {});
Grant wait(Connection& c, std::string_view key, std::chrono::seconds timeout);
Grant sem_acquire(Connection& c, std::string_view key, std::chrono::seconds timeout,
                  std::uint32_t limit, std::optional<std::chrono::seconds> lease_ttl = {});
void sem_release(Connection& c, std::string_view key, std::string_view token);
std::int64_t sem_renew(Connection& c, std::string_view key, std::string_view token,
                       std::optional<std::chrono::seconds> lease_ttl = {});
EnqueueResult sem_enqueue(Connection& c, std::string_view key, std::uint32_t limit,
                          std::optional<std::chrono::seconds> lease_ttl = {});
Grant sem_wait(Connection& c, std::string_view key, std::chrono::seconds timeout);
Stats stats(Connection& c);
std::int64_t sig_emit(Connection& c, std::string_view channel, std::string_view payload);
void ping(Connection& c);
/// The shard list of a sharded deployment (`--shards`), in routing order, from any one
/// of its servers; empty for a single server. Such a set routes keys itself, so a
/// client may use one server for everything, or this list to save the extra hop.
std::vector<ServerAddress> discover_servers(Connection& c);

}  // namespace dflockd
