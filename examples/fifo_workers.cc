// Nine threads compete for one lock; the server grants it in arrival order.
#include <dflockd/client.h>

#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

int main() {
  using namespace std::chrono_literals;
  std::mutex print;
  std::vector<std::thread> workers;
  for (int id = 0; id < 9; ++id) {
    workers.emplace_back([id, &print] {
      dflockd::LockOptions options;
      options.acquire_timeout = 30s;
      dflockd::DistributedLock lock("foo", options);
      std::lock_guard guard(lock);
      {
        std::lock_guard p(print);
        std::cout << "acquired  (" << id << "): " << *lock.token() << std::endl;
      }
      std::this_thread::sleep_for(1s);
      std::lock_guard p(print);
      std::cout << "released  (" << id << "): " << *lock.token() << std::endl;
    });
  }
  for (auto& w : workers) w.join();
}
