// Replace the CRC-32 routing with your own: here every key goes to the first server.
#include <dflockd/client.h>

#include <iostream>
#include <vector>

// Usage: example_custom_strategy [HOST:PORT ...]   (default: the docs' server1..2:6388)
int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  if (names.empty()) names = {"server1:6388", "server2:6388"};
  dflockd::LockOptions options;
  options.servers.clear();
  for (const auto& name : names) options.servers.push_back(dflockd::ServerAddress::parse(name));
  options.sharding_strategy = [](std::string_view /*key*/, std::size_t /*num_servers*/) {
    return std::size_t{0};
  };
  dflockd::DistributedLock lock("my-key", options);
  std::lock_guard guard(lock);
  std::cout << "token=" << *lock.token() << " on " << lock.server().to_string() << '\n';
}
