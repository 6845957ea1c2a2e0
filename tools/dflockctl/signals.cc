#include "signals.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>
#include <memory>
#include <vector>

#include "dflockd/client/async_signal.h"
#include "dflockd/client/connection.h"
#include "dflockd/client/errors.h"
#include "dflockd/client/sharding.h"

namespace dflockctl {
namespace asio = boost::asio;

int Emit(const GlobalOptions& global, const std::string& channel, const std::string& payload) {
  // A channel lives on one shard, chosen like a lock key; `listen` subscribes on
  // every server, so each signal reaches each listener once.
  const auto servers = Servers(global);
  const auto& server = servers[dflockd::stable_hash_shard(channel, servers.size())];
  dflockd::Connection connection(server, ConnectOptionsFrom(global));
  std::cout << dflockd::sig_emit(connection, channel, payload) << '\n';
  return kOk;
}

int Listen(const GlobalOptions& global, const std::string& pattern, const std::string& group,
           long long count) {
  asio::io_context io;
  auto connect_options = ConnectOptionsFrom(global);
  std::vector<std::unique_ptr<dflockd::AsyncSignalConn>> conns;
  // A sharded set (--shards) registers a subscription on every shard by itself:
  // listening on each would deliver every signal once per server.
  auto servers = Servers(global);
  if (servers.size() > 1 && !ClusterShards(global).empty()) servers.resize(1);
  for (const auto& server : servers) {
    conns.push_back(std::make_unique<dflockd::AsyncSignalConn>(
        io.get_executor(), dflockd::SignalOptions{server, connect_options}));
  }
  int rc = kOk;
  long long printed = 0;
  std::size_t running = conns.size();
  bool stopping = false;
  auto close_all = [&] {
    stopping = true;
    for (auto& c : conns) asio::co_spawn(io, c->close(), asio::detached);
  };
  asio::signal_set stop(io, SIGINT, SIGTERM);
  stop.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) close_all();
  });
  for (auto& conn : conns) {
    asio::co_spawn(
        io,
        [&, c = conn.get()]() -> asio::awaitable<void> {
          try {
            co_await c->listen(pattern, group);
            while (auto signal = co_await c->next()) {
              std::cout << signal->channel << ' ' << signal->payload << std::endl;
              if (count > 0 && ++printed >= count) close_all();
            }
            if (!stopping) {
              std::cerr << "dflockctl: " << c->server().to_string() << " closed the connection\n";
              rc = kFailure;
              close_all();
            }
          } catch (const dflockd::Error& e) {
            std::cerr << "dflockctl: " << e.what() << '\n';
            rc = kFailure;
            close_all();
          }
          if (--running == 0) stop.cancel();
        },
        asio::detached);
  }
  io.run();
  return rc;
}

}  // namespace dflockctl
