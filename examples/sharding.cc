// Spread keys over several servers: each key always routes to the same one
// (CRC-32 of the key modulo the number of servers, as in every dflockd client).
#include <dflockd/client.h>

#include <iostream>
#include <vector>

// Usage: example_sharding [HOST:PORT ...]   (default: the docs' server1..3:6388)
int main(int argc, char** argv) {
  std::vector<std::string> names(argv + 1, argv + argc);
  if (names.empty()) names = {"server1:6388", "server2:6388", "server3:6388"};
  dflockd::LockOptions options;
  options.servers.clear();
  for (const auto& name : names) options.servers.push_back(dflockd::ServerAddress::parse(name));
  for (const char* key : {"my-key", "orders", "invoices"}) {
    auto index = dflockd::stable_hash_shard(key, options.servers.size());
    std::cout << key << " -> " << options.servers[index].to_string() << '\n';
  }
  dflockd::DistributedLock lock("my-key", options);
  std::lock_guard guard(lock);
  std::cout << "token=" << *lock.token() << " lease=" << lock.lease() << " on "
            << lock.server().to_string() << '\n';
}
