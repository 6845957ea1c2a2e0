// Up to three holders at once on one key.
#include <dflockd/client.h>

#include <iostream>

int main() {
  using namespace std::chrono_literals;
  dflockd::LockOptions options;
  options.acquire_timeout = 10s;
  dflockd::DistributedSemaphore sem("my-key", 3, options);
  {
    std::lock_guard guard(sem);
    std::cout << "token=" << *sem.token() << " lease=" << sem.lease() << '\n';
    // up to 3 holders at once
  }
  // Manual form: acquire() returns false on timeout instead of throwing.
  if (sem.acquire()) {
    std::cout << "acquired again, fence=" << sem.fence() << '\n';
    sem.release();
  }
}
