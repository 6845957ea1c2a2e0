// Hold a lock for longer than its lease; the client renews it in the background.
#include <dflockd/client.h>

#include <iostream>
#include <thread>

int main() {
  using namespace std::chrono_literals;
  dflockd::LockOptions options;
  options.acquire_timeout = 10s;
  options.lease_ttl = 20s;
  dflockd::DistributedLock lock("foo", options);
  std::lock_guard guard(lock);
  std::cout << "acquired key=" << lock.key() << " token=" << *lock.token()
            << " lease=" << lock.lease() << " fence=" << lock.fence() << '\n';
  std::this_thread::sleep_for(45s);  // the lease is renewed every 10 s
  std::cout << "done critical section, still held: " << std::boolalpha << lock.is_held() << '\n';
}
