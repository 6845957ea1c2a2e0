// Spread keys over several servers: each key always routes to the same one
// (CRC-32 of the key modulo the number of servers, as in every dflockd client).
#include <dflockd/client.h>

#include <iostream>

int main() {
  dflockd::LockOptions options;
  options.servers = {dflockd::ServerAddress::parse("server1:6388"),
                     dflockd::ServerAddress::parse("server2:6388"),
                     dflockd::ServerAddress::parse("server3:6388")};
  for (const char* key : {"my-key", "orders", "invoices"}) {
    std::cout << key << " -> " << options.servers[dflockd::stable_hash_shard(key, 3)].to_string()
              << '\n';
  }
  dflockd::DistributedLock lock("my-key", options);
  std::lock_guard guard(lock);
  std::cout << "token=" << *lock.token() << " lease=" << lock.lease() << " on "
            << lock.server().to_string() << '\n';
}
