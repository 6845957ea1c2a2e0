// ReadySet: the epoll set plain native sockets sit in, polled as one descriptor of
// the io_context.
#include "native/ready_set.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace dflockd::native {
namespace {

struct SocketPair {
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fd), 0); }
  ~SocketPair() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
  void Send(const char* s) const { ASSERT_GT(::write(fd[1], s, std::strlen(s)), 0); }
  int fd[2];
};

/// Records its events, drains what it reads (as a transport does after an edge).
class Recorder final : public ReadyWatcher {
 public:
  Recorder(std::string name, int fd, std::vector<std::string>& log, bool drain = true)
      : name_(std::move(name)), fd_(fd), log_(log), drain_(drain) {}
  void OnReady(std::uint32_t events) override {
    if ((events & EPOLLIN) == 0) return;
    char buf[64];
    while (drain_ && ::read(fd_, buf, sizeof buf) > 0) {
    }
    log_.push_back(name_);
  }
  void OnShutdown() override { log_.push_back(name_ + " shutdown"); }

 private:
  std::string name_;
  int fd_;
  std::vector<std::string>& log_;
  bool drain_;
};

TEST(ReadySet, DeliversEdgesInArrivalOrderAndLetsTheContextIdleWhenEmpty) {
  boost::asio::io_context io(1);
  auto& set = boost::asio::use_service<ReadySet>(io);
  std::vector<std::string> log;
  SocketPair a, b, c;
  Recorder ra("a", a.fd[0], log), rb("b", b.fd[0], log), rc("c", c.fd[0], log);
  const std::pair<Recorder*, int> sockets[] = {{&ra, a.fd[0]}, {&rb, b.fd[0]}, {&rc, c.fd[0]}};
  for (auto [r, fd] : sockets) {
    ASSERT_TRUE(set.Add(fd, r, EPOLLIN | EPOLLET));
  }
  c.Send("x");
  a.Send("x");
  b.Send("x");
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"c", "a", "b"}));
  // Edge-triggered: a socket drained in one batch is not reported again without new
  // data, and a new arrival queues behind the others.
  log.clear();
  b.Send("y");
  a.Send("y");
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));
  // With every socket removed the set holds no work: run() returns at once.
  for (auto [r, fd] : sockets) set.Remove(fd, r);
  io.restart();
  io.run();  // would block forever if the set still waited
  a.Send("z");
  io.restart();
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"b", "a"}));  // removed: no more events
}

TEST(ReadySet, ReportsAnEdgeOnceEvenIfTheDataStaysUnread) {
  // PlainTransport relies on it: it remembers the edge itself (readable_) and reads
  // when its session wants data, instead of being woken on every batch meanwhile.
  boost::asio::io_context io(1);
  auto& set = boost::asio::use_service<ReadySet>(io);
  std::vector<std::string> log;
  SocketPair a;
  Recorder ra("a", a.fd[0], log, /*drain=*/false);
  ASSERT_TRUE(set.Add(a.fd[0], &ra, EPOLLIN | EPOLLET));
  a.Send("x");
  io.poll();
  io.restart();
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"a"}));
  a.Send("y");  // new data: a new edge
  io.restart();
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "a"}));
  set.Remove(a.fd[0], &ra);
}

TEST(ReadySet, DeliversEverySocketWhenMoreAreReadyThanOneBatchTakes) {
  // One wake-up takes 256 sockets; the set's descriptor need not report a new edge for
  // the rest (this kernel re-reports a partly drained set once, so it takes more than
  // two batches to show), and the set must come back for them by itself.
  boost::asio::io_context io(1);
  auto& set = boost::asio::use_service<ReadySet>(io);
  std::vector<std::string> log;
  constexpr int kSockets = 600;
  constexpr rlim_t kDescriptors = 2 * kSockets + 64;  // both ends, and the process's own
  rlimit files{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  if (files.rlim_cur < kDescriptors) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 4096);
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur < kDescriptors) {
      GTEST_SKIP() << "needs " << kDescriptors << " descriptors";
    }
  }
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<Recorder>> recorders;
  for (int i = 0; i < kSockets; ++i) {
    pairs.push_back(std::make_unique<SocketPair>());
    recorders.push_back(std::make_unique<Recorder>(std::to_string(i), pairs[i]->fd[0], log));
    ASSERT_TRUE(set.Add(pairs[i]->fd[0], recorders[i].get(), EPOLLIN | EPOLLET));
  }
  for (auto& p : pairs) p->Send("x");
  for (int round = 0; round < 10 && log.size() < kSockets; ++round) {
    io.restart();
    io.poll();
  }
  ASSERT_EQ(log.size(), static_cast<std::size_t>(kSockets));
  for (int i = 0; i < kSockets; ++i) EXPECT_EQ(log[i], std::to_string(i));  // arrival order
  for (int i = 0; i < kSockets; ++i) set.Remove(pairs[i]->fd[0], recorders[i].get());
}

TEST(ReadySet, WaitsAgainAfterEveryWatcherLeftAndOneCameBack) {
  boost::asio::io_context io(1);
  auto& set = boost::asio::use_service<ReadySet>(io);
  std::vector<std::string> log;
  SocketPair a, b;
  Recorder ra("a", a.fd[0], log), rb("b", b.fd[0], log);
  // Removed and added back before the cancelled wait has completed.
  ASSERT_TRUE(set.Add(a.fd[0], &ra, EPOLLIN | EPOLLET));
  set.Remove(a.fd[0], &ra);
  ASSERT_TRUE(set.Add(a.fd[0], &ra, EPOLLIN | EPOLLET));
  a.Send("x");
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"a"}));
  // Removed, the context idles, then a new watcher arrives.
  set.Remove(a.fd[0], &ra);
  io.restart();
  io.run();
  ASSERT_TRUE(set.Add(b.fd[0], &rb, EPOLLIN | EPOLLET));
  b.Send("x");
  io.restart();
  io.poll();
  EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
  set.Remove(b.fd[0], &rb);
}

TEST(ReadySet, ReleasesWatchersStillRegisteredWhenTheContextGoesAway) {
  std::vector<std::string> log;
  SocketPair a;
  Recorder ra("a", a.fd[0], log);
  {
    boost::asio::io_context io(1);
    ASSERT_TRUE(boost::asio::use_service<ReadySet>(io).Add(a.fd[0], &ra, EPOLLIN | EPOLLET));
  }
  EXPECT_EQ(log, (std::vector<std::string>{"a shutdown"}));
}

TEST(ReadySet, RefusesADescriptorEpollCannotWatch) {
  boost::asio::io_context io(1);
  std::vector<std::string> log;
  Recorder r("bad", -1, log);
  EXPECT_FALSE(boost::asio::use_service<ReadySet>(io).Add(-1, &r, EPOLLIN));
  io.run();  // nothing registered: no work
}

}  // namespace
}  // namespace dflockd::native
