// The native protocol listener (port 6388): accepts connections, applies the
// connection caps and starts a session per connection.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "core/executor.h"
#include "native/session.h"
#include "native/session_registry.h"

namespace dflockd::native {

struct ListenerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6388;
  std::chrono::milliseconds read_timeout{23000};
  std::chrono::milliseconds write_timeout{5000};
  std::size_t max_connections = 0;  ///< 0 = unlimited
  std::size_t max_per_ip = 0;       ///< 0 = unlimited
  SessionOptions session;
  boost::asio::ssl::context* tls = nullptr;  ///< set: every connection must use TLS
  const ClusterHooks* cluster = nullptr;     ///< sharded mode only
};

class Listener {
 public:
  Listener(boost::asio::io_context& io, core::CommandExecutor& executor, ListenerConfig config);

  /// Binds and starts accepting. Throws boost::system::system_error if it cannot bind.
  void Start();
  void StopAccepting();
  SessionRegistry& registry() { return registry_; }

 private:
  void DoAccept();

  boost::asio::io_context& io_;
  ListenerConfig config_;
  SessionRegistry registry_;
  SessionContext context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
};

}  // namespace dflockd::native
