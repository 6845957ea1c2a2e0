// Join the queue first, tell someone, then block for the grant.
#include <dflockd/client.h>

#include <iostream>

int main() {
  using namespace std::chrono_literals;
  dflockd::LockOptions options;
  options.acquire_timeout = 10s;
  dflockd::DistributedLock lock("my-key", options);
  auto status = lock.enqueue();
  std::cout << (status == dflockd::EnqueueStatus::kAcquired ? "acquired" : "queued") << '\n';
  // ... notify an external system here ...
  if (lock.wait(10s)) {
    std::cout << "token=" << *lock.token() << '\n';
    lock.release();
  } else {
    std::cout << "not granted within 10 s\n";
  }
}
