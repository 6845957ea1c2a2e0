// Replace the CRC-32 routing with your own: here every key goes to the first server.
#include <dflockd/client.h>

#include <iostream>

int main() {
  dflockd::LockOptions options;
  options.servers = {dflockd::ServerAddress::parse("server1:6388"),
                     dflockd::ServerAddress::parse("server2:6388")};
  options.sharding_strategy = [](std::string_view /*key*/, std::size_t /*num_servers*/) {
    return std::size_t{0};
  };
  dflockd::DistributedLock lock("my-key", options);
  std::lock_guard guard(lock);
  std::cout << "token=" << *lock.token() << " on " << lock.server().to_string() << '\n';
}
