// The FIFO example with coroutines: nine workers on one io_context thread.
#include <dflockd/client.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <iostream>

namespace asio = boost::asio;

asio::awaitable<void> Worker(int id) {
  using namespace std::chrono_literals;
  auto executor = co_await asio::this_coro::executor;
  dflockd::LockOptions options;
  options.acquire_timeout = 12s;
  dflockd::AsyncDistributedLock lock(executor, "foo", options);
  auto guard = co_await lock.lock();  // throws dflockd::TimeoutError if not granted
  std::cout << "acquired  (" << id << "): " << *lock.token() << std::endl;
  asio::steady_timer pause(executor, 1s);
  co_await pause.async_wait(asio::use_awaitable);
  std::cout << "released  (" << id << "): " << *lock.token() << std::endl;
  co_await guard.unlock();
}

int main() {
  asio::io_context io;
  for (int id = 0; id < 9; ++id) {
    asio::co_spawn(io, Worker(id), [](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
    });
  }
  io.run();
}
