// The blocking lock and semaphore API against the real server.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "client_fixture.h"

namespace dflockd::testing {
namespace {
using namespace std::chrono_literals;

class Locks : public ClientTest {};

TEST_F(Locks, TwentyClientsIncrementASharedCounterFileWithoutLosingAnUpdate) {
  auto path = std::filesystem::temp_directory_path() /
              ("dflockd-counter-" + std::to_string(::getpid()));
  std::ofstream(path) << 0;
  constexpr int kClients = 20;
  constexpr int kRounds = 10;
  std::atomic<int> inside{0};
  std::atomic<int> max_inside{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      auto options = OptionsFor(server());
      options.acquire_timeout = 60s;
      DistributedLock lock("counter-file", options);
      for (int round = 0; round < kRounds; ++round) {
        std::lock_guard guard(lock);
        int now = ++inside;
        max_inside = std::max(max_inside.load(), now);
        int value = 0;
        std::ifstream(path) >> value;
        std::this_thread::yield();  // widen the window a lost update would need
        std::ofstream(path) << value + 1;
        --inside;
      }
    });
  }
  for (auto& c : clients) c.join();
  int final_value = 0;
  std::ifstream(path) >> final_value;
  std::filesystem::remove(path);
  EXPECT_EQ(final_value, kClients * kRounds);
  EXPECT_EQ(max_inside.load(), 1);
}

TEST_F(Locks, NineWorkersAreGrantedInArrivalOrder) {
  const std::string key = "fifo-nine";
  DistributedLock holder(key, OptionsFor(server()));
  ASSERT_TRUE(holder.acquire());
  std::mutex mutex;
  std::vector<int> order;
  std::vector<std::thread> workers;
  for (int id = 0; id < 9; ++id) {
    workers.emplace_back([&, id] {
      auto options = OptionsFor(server());
      options.acquire_timeout = 30s;
      DistributedLock lock(key, options);
      std::lock_guard guard(lock);
      std::lock_guard record(mutex);
      order.push_back(id);
    });
    // The next worker starts only once this one is queued on the server.
    ASSERT_TRUE(Eventually([&] { return WaitersOn(server(), key) == std::uint64_t(id) + 1; }));
  }
  EXPECT_TRUE(holder.release());
  for (auto& w : workers) w.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST_F(Locks, AcquireReportsTokenLeaseAndFenceAndTimesOutWhenHeld) {
  auto options = OptionsFor(server());
  options.lease_ttl = 7s;
  DistributedLock a("basic", options);
  EXPECT_FALSE(a.is_held());
  EXPECT_FALSE(a.token());
  ASSERT_TRUE(a.acquire());
  ASSERT_TRUE(a.token());
  EXPECT_EQ(a.token()->size(), 32u);
  EXPECT_EQ(a.lease(), 7);
  auto first_fence = a.fence();
  EXPECT_EQ(first_fence, std::stoull(a.token()->substr(0, 16), nullptr, 16));

  options.acquire_timeout = 1s;
  DistributedLock b("basic", options);
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(b.acquire());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 900ms);
  EXPECT_FALSE(b.try_lock());
  EXPECT_THROW(b.lock(), TimeoutError);
  EXPECT_THROW(a.acquire(), Error);  // not re-entrant

  EXPECT_TRUE(a.release());
  EXPECT_FALSE(a.release());  // nothing held any more
  ASSERT_TRUE(b.try_lock());
  EXPECT_GT(b.fence(), first_fence);
}

TEST_F(Locks, RenewalKeepsALockPastSeveralLeasePeriods) {
  auto options = OptionsFor(server());
  options.lease_ttl = 2s;  // renewed every second
  DistributedLock lock("renewed", options);
  ASSERT_TRUE(lock.acquire());
  auto token = *lock.token();
  std::this_thread::sleep_for(5s);  // 2.5 lease periods
  EXPECT_TRUE(lock.is_held());
  EXPECT_EQ(*lock.token(), token);
  DistributedLock other("renewed", OptionsFor(server()));
  EXPECT_FALSE(other.try_lock());
  EXPECT_TRUE(lock.release());  // the server still knew the token
}

TEST_F(Locks, ARefusedRenewalMarksTheLockLost) {
  auto options = OptionsFor(server());
  options.lease_ttl = 1s;
  options.renew_ratio = 3.0;  // renews only after the server expired the lease
  std::mutex mutex;
  std::string lost_key;
  std::string lost_reason;
  options.on_lost = [&](const std::string& key, const std::string& reason) {
    std::lock_guard guard(mutex);
    lost_key = key;
    lost_reason = reason;
  };
  DistributedLock lock("refused-renewal", options);
  ASSERT_TRUE(lock.acquire());
  ASSERT_TRUE(Eventually([&] { return !lock.is_held(); }));
  EXPECT_FALSE(lock.token());
  std::lock_guard guard(mutex);
  EXPECT_EQ(lost_key, "refused-renewal");
  EXPECT_NE(lost_reason.find("renewal failed"), std::string::npos) << lost_reason;
}

TEST(LocksLost, TheServerGoingAwayMarksTheLockLost) {
  ServerProcess server;
  auto options = OptionsFor(server);
  std::atomic<int> lost{0};
  options.on_lost = [&](const std::string&, const std::string&) { ++lost; };
  DistributedLock lock("server-gone", options);
  ASSERT_TRUE(lock.acquire());
  server.Stop();
  EXPECT_TRUE(Eventually([&] { return lost.load() == 1; }));
  EXPECT_FALSE(lock.is_held());
  EXPECT_FALSE(lock.release());
  EXPECT_THROW(lock.acquire(), ConnectionError);
}

TEST_F(Locks, TwoPhaseEnqueueThenWait) {
  DistributedLock holder("two-phase", OptionsFor(server()));
  ASSERT_EQ(holder.enqueue(), EnqueueStatus::kAcquired);
  EXPECT_TRUE(holder.wait());  // already granted: returns at once
  EXPECT_TRUE(holder.is_held());

  DistributedLock second("two-phase", OptionsFor(server()));
  EXPECT_THROW(second.wait(1s), Error);  // wait() before enqueue()
  ASSERT_EQ(second.enqueue(), EnqueueStatus::kQueued);
  EXPECT_FALSE(second.is_held());
  EXPECT_FALSE(second.wait(1s));  // timed out; the server removed the waiter
  ASSERT_EQ(second.enqueue(), EnqueueStatus::kQueued);
  std::thread releaser([&] {
    std::this_thread::sleep_for(300ms);
    holder.release();
  });
  EXPECT_TRUE(second.wait(10s));
  releaser.join();
  EXPECT_TRUE(second.is_held());
  EXPECT_TRUE(second.release());
}

TEST_F(Locks, SemaphoreHonoursItsLimit) {
  auto options = OptionsFor(server());
  std::vector<std::unique_ptr<DistributedSemaphore>> holders;
  for (int i = 0; i < 3; ++i) {
    holders.push_back(std::make_unique<DistributedSemaphore>("pool", 3, options));
    ASSERT_TRUE(holders.back()->try_lock());
  }
  DistributedSemaphore fourth("pool", 3, options);
  EXPECT_FALSE(fourth.try_lock());
  DistributedSemaphore other_limit("pool", 5, options);
  try {
    other_limit.try_lock();
    FAIL() << "a different limit must be refused";
  } catch (const ServerError& e) {
    EXPECT_EQ(e.code(), "error_limit_mismatch");
  }
  EXPECT_TRUE(holders[0]->release());
  EXPECT_TRUE(fourth.try_lock());
  // Locks and semaphores are separate namespaces.
  DistributedLock same_name("pool", options);
  EXPECT_TRUE(same_name.try_lock());
}

TEST_F(Locks, LowLevelFunctionsOverOneConnection) {
  Connection c(AddressOf(server()));
  auto grant = acquire(c, "low-level", 10s, 20s);
  EXPECT_EQ(grant.lease, 20);
  EXPECT_EQ(renew(c, "low-level", grant.token), 33);  // the server's default lease
  Connection other(AddressOf(server()));
  EXPECT_THROW(acquire(other, "low-level", 0s), TimeoutError);
  auto queued = enqueue(other, "low-level");
  EXPECT_EQ(queued.status, EnqueueStatus::kQueued);
  release(c, "low-level", grant.token);
  auto granted = wait(other, "low-level", 5s);
  EXPECT_GT(granted.fence(), grant.fence());
  EXPECT_THROW(release(c, "low-level", grant.token), ServerError);  // stale token
  release(other, "low-level", granted.token);

  auto slot = sem_acquire(c, "low-sem", 0s, 2);
  EXPECT_GT(sem_renew(c, "low-sem", slot.token, 9s), 0);
  auto second = sem_enqueue(other, "low-sem", 2);
  EXPECT_EQ(second.status, EnqueueStatus::kAcquired);
  EXPECT_EQ(sem_wait(other, "low-sem", 1s).token, second.grant.token);
  sem_release(c, "low-sem", slot.token);

  auto s = stats(c);
  EXPECT_GE(s.connections, 2u);
  bool seen = false;
  for (const auto& sem : s.semaphores) seen |= sem.key == "low-sem" && sem.holders == 1;
  EXPECT_TRUE(seen) << s.json;
  EXPECT_EQ(sig_emit(c, "nobody.listens", "hello"), 0);
  EXPECT_NO_THROW(ping(c));
  EXPECT_EQ(c.call("bogus\n_\n_\n"), "error");
}

TEST(Sharding, KeysGoToTheServerCrc32Picks) {
  ServerProcess a;
  ServerProcess b;
  ServerProcess c;
  std::vector<ServerAddress> servers = {AddressOf(a), AddressOf(b), AddressOf(c)};
  std::vector<ServerProcess*> processes = {&a, &b, &c};
  LockOptions options;
  options.servers = servers;
  for (std::string key : {"my-key", "invoices", "a", "orders", "lock:user:42"}) {
    DistributedLock lock(key, options);
    ASSERT_TRUE(lock.acquire());
    auto index = stable_hash_shard(key, 3);
    EXPECT_EQ(lock.server(), servers[index]) << key;
    for (std::size_t i = 0; i < 3; ++i) {
      Connection conn(servers[i]);
      bool held_here = false;
      for (const auto& l : stats(conn).locks) held_here |= l.key == key;
      EXPECT_EQ(held_here, i == index) << key << " on server " << i;
    }
  }
  options.sharding_strategy = [](std::string_view, std::size_t) { return std::size_t{2}; };
  DistributedLock pinned("my-key", options);
  EXPECT_EQ(pinned.server(), servers[2]);
  options.sharding_strategy = [](std::string_view, std::size_t n) { return n; };
  EXPECT_THROW(DistributedLock("my-key", options), InvalidArgument);
}

TEST(Connecting, RefusedAndBadInputAreClearErrors) {
  LockOptions options;
  options.servers = {ServerAddress{"127.0.0.1", 1}};
  options.connection.connect_timeout = 2s;
  DistributedLock lock("k", options);
  EXPECT_THROW(lock.acquire(), ConnectionError);
  EXPECT_THROW(Connection(ServerAddress{"127.0.0.1", 1}), ConnectionError);
  ServerProcess server;
  DistributedLock bad("bad key", OptionsFor(server));
  EXPECT_THROW(bad.acquire(), InvalidArgument);
  DistributedLock injected("k\nr", OptionsFor(server));
  EXPECT_THROW(injected.acquire(), InvalidArgument);
}

}  // namespace
}  // namespace dflockd::testing
