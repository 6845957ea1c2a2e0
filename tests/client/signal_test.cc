// SignalConn against the real server: wildcards, queue groups, iteration, overflow.
#include <thread>

#include "client_fixture.h"

namespace dflockd::testing {
namespace {
using namespace std::chrono_literals;

class Signals : public ClientTest {};

TEST_F(Signals, WildcardsDeliverOneCopyPerConnection) {
  SignalConn listener(SignalOptionsFor(server()));
  listener.listen("events.user.*");
  listener.listen("events.>");  // also matches: still one copy
  SignalConn publisher(SignalOptionsFor(server()));
  EXPECT_EQ(publisher.emit("events.user.login", "alice"), 1);
  EXPECT_EQ(publisher.emit("events.order.created", " spaced  payload "), 1);
  EXPECT_EQ(publisher.emit("other.thing", "x"), 0);
  auto first = listener.next(5s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->channel, "events.user.login");
  EXPECT_EQ(first->payload, "alice");
  auto second = listener.next(5s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->channel, "events.order.created");
  EXPECT_EQ(second->payload, " spaced  payload ");
  EXPECT_FALSE(listener.next(200ms));

  listener.unlisten("events.>");
  EXPECT_EQ(publisher.emit("events.order.created", "y"), 0);
  EXPECT_EQ(publisher.emit("events.user.logout", "bob"), 1);
  auto third = listener.next(5s);
  ASSERT_TRUE(third);
  EXPECT_EQ(third->channel, "events.user.logout");
}

TEST_F(Signals, QueueGroupsShareTheWork) {
  SignalConn a(SignalOptionsFor(server()));
  SignalConn b(SignalOptionsFor(server()));
  SignalConn watcher(SignalOptionsFor(server()));
  a.listen("jobs.*", "workers");
  b.listen("jobs.*", "workers");
  watcher.listen("jobs.>");
  SignalConn publisher(SignalOptionsFor(server()));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(publisher.emit("jobs.build", std::to_string(i)), 2);  // one worker + the watcher
  }
  int got_a = 0;
  int got_b = 0;
  while (a.next(300ms)) ++got_a;
  while (b.next(300ms)) ++got_b;
  EXPECT_EQ(got_a, 2);  // round-robin
  EXPECT_EQ(got_b, 2);
  int watched = 0;
  while (watcher.next(300ms)) ++watched;
  EXPECT_EQ(watched, 4);
}

TEST_F(Signals, IterationEndsWhenClosed) {
  SignalConn listener(SignalOptionsFor(server()));
  listener.listen("iter.>");
  SignalConn publisher(SignalOptionsFor(server()));
  publisher.emit("iter.a", "1");
  publisher.emit("iter.b", "2");
  std::vector<std::string> seen;
  std::thread closer([&] {
    std::this_thread::sleep_for(500ms);
    listener.close();
  });
  for (const Signal& s : listener) seen.push_back(s.channel + "=" + s.payload);
  closer.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"iter.a=1", "iter.b=2"}));
  EXPECT_FALSE(listener.is_open());
  EXPECT_THROW(listener.listen("x"), ConnectionError);
}

TEST_F(Signals, AFullLocalBufferCountsDrops) {
  auto options = SignalOptionsFor(server());
  options.buffer_capacity = 2;
  SignalConn listener(options);
  listener.listen("flood");
  SignalConn publisher(SignalOptionsFor(server()));
  for (int i = 0; i < 5; ++i) publisher.emit("flood", std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return listener.dropped() == 3; }));
  EXPECT_EQ(listener.next(1s)->payload, "0");
  EXPECT_EQ(listener.next(1s)->payload, "1");
  EXPECT_FALSE(listener.next(200ms));
}

TEST_F(Signals, BadPatternsAreRejected) {
  SignalConn conn(SignalOptionsFor(server()));
  EXPECT_THROW(conn.listen("a b"), InvalidArgument);
  EXPECT_THROW(conn.listen("fo*"), ServerError);  // the server's rule
  EXPECT_THROW(conn.emit("a.*", "x"), InvalidArgument);
  conn.listen("still.works");  // the connection survived
  EXPECT_EQ(conn.emit("still.works", "yes"), 1);
}

TEST(SignalsHeartbeat, PingsKeepAnIdleConnectionOpen) {
  ServerProcess server({"--read-timeout", "2"});
  auto options = SignalOptionsFor(server);
  options.heartbeat = 1s;
  SignalConn listener(options);
  listener.listen("quiet");
  std::this_thread::sleep_for(3500ms);  // longer than the read timeout
  EXPECT_TRUE(listener.is_open());
  SignalConn publisher(SignalOptionsFor(server));
  EXPECT_EQ(publisher.emit("quiet", "still here"), 1);
  EXPECT_EQ(listener.next(2s)->payload, "still here");
}

}  // namespace
}  // namespace dflockd::testing
