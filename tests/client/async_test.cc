// The coroutine API against the real server.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "client_fixture.h"

namespace dflockd::testing {
namespace {
using namespace std::chrono_literals;
namespace asio = boost::asio;

class Async : public ClientTest {
 protected:
  template <class Fn>
  void RunCoroutine(Fn fn) {
    asio::io_context io;
    auto done = asio::co_spawn(io, fn(io.get_executor()), asio::use_future);
    io.run();
    done.get();  // rethrows a failed EXPECT's exception or any error
  }
};

asio::awaitable<void> Sleep(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

TEST_F(Async, AcquireReleaseAndGuard) {
  RunCoroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    AsyncDistributedLock a(ex, "async-basic", OptionsFor(server()));
    AsyncDistributedLock b(ex, "async-basic", OptionsFor(server()));
    // GCC 12 miscompiles co_await inside larger expressions (EXPECT_* are `if`s):
    // every result goes through a local first.
    bool ok = co_await a.acquire();
    EXPECT_TRUE(ok);
    EXPECT_TRUE(a.is_held());
    ok = co_await b.acquire(0s);
    EXPECT_FALSE(ok);
    ok = co_await a.release();
    EXPECT_TRUE(ok);
    {
      auto guard = co_await b.lock();
      EXPECT_TRUE(b.is_held());
      ok = co_await a.acquire(0s);
      EXPECT_FALSE(ok);
      ok = co_await guard.unlock();
      EXPECT_TRUE(ok);
    }
    ok = co_await a.acquire(0s);
    EXPECT_TRUE(ok);
    co_await a.close();
    EXPECT_FALSE(a.is_held());
  });
}

TEST_F(Async, WaitersAreServedInOrderOnOneThread) {
  RunCoroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    AsyncDistributedLock holder(ex, "async-fifo", OptionsFor(server()));
    const bool held = co_await holder.acquire();
    EXPECT_TRUE(held);
    std::vector<int> order;
    std::vector<std::unique_ptr<AsyncDistributedLock>> locks;
    int finished = 0;
    for (int id = 0; id < 5; ++id) {
      locks.push_back(std::make_unique<AsyncDistributedLock>(ex, "async-fifo", OptionsFor(server())));
      asio::co_spawn(
          ex,
          [&, id, lock = locks.back().get()]() -> asio::awaitable<void> {
            auto guard = co_await lock->lock();
            order.push_back(id);
            co_await guard.unlock();
            ++finished;
          },
          asio::detached);
      while (WaitersOn(server(), "async-fifo") != std::uint64_t(id) + 1) co_await Sleep(10ms);
    }
    co_await holder.release();
    while (finished < 5) co_await Sleep(10ms);
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  });
}

TEST_F(Async, RenewalRunsAsACoroutine) {
  RunCoroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto options = OptionsFor(server());
    options.lease_ttl = 2s;
    AsyncDistributedSemaphore sem(ex, "async-renewed", 1, options);
    const bool acquired = co_await sem.acquire();
    EXPECT_TRUE(acquired);
    co_await Sleep(4500ms);
    EXPECT_TRUE(sem.is_held());
    const bool released = co_await sem.release();
    EXPECT_TRUE(released);  // the server still knew the token
  });
}

TEST_F(Async, TwoPhaseAndLowLevel) {
  RunCoroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    auto conn = co_await AsyncConnection::connect(ex, AddressOf(server()));
    auto grant = co_await acquire(conn, "async-low", 5s);
    AsyncDistributedLock queued(ex, "async-low", OptionsFor(server()));
    const auto status = co_await queued.enqueue();
    EXPECT_EQ(status, EnqueueStatus::kQueued);
    const auto lease = co_await renew(conn, "async-low", grant.token, 10s);
    EXPECT_EQ(lease, 10);
    co_await release(conn, "async-low", grant.token);
    const bool granted = co_await queued.wait(5s);
    EXPECT_TRUE(granted);
    EXPECT_GT(queued.fence(), grant.fence());
    auto s = co_await stats(conn);
    EXPECT_EQ(s.locks.size(), 1u);
    co_await ping(conn);
  });
}

TEST_F(Async, SignalsArriveThroughNext) {
  RunCoroutine([&](asio::any_io_executor ex) -> asio::awaitable<void> {
    AsyncSignalConn listener(ex, SignalOptionsFor(server()));
    co_await listener.listen("async.*");
    AsyncSignalConn publisher(ex, SignalOptionsFor(server()));
    const auto delivered = co_await publisher.emit("async.one", "payload");
    EXPECT_EQ(delivered, 1);
    auto signal = co_await listener.next(5000ms);
    EXPECT_TRUE(signal && signal->channel == "async.one" && signal->payload == "payload");
    auto none = co_await listener.next(100ms);
    EXPECT_FALSE(none);
    co_await listener.close();
    auto after_close = co_await listener.next();
    EXPECT_FALSE(after_close);  // closed: returns at once
    co_await publisher.close();
  });
}

}  // namespace
}  // namespace dflockd::testing
