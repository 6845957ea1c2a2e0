#include "workers.h"

#include <stdexcept>

namespace dflockd::bench {
namespace {
std::string JsonToken(const std::string& body) {
  auto at = body.find("\"token\":\"");
  if (at == std::string::npos) throw std::runtime_error("no token in " + body);
  return body.substr(at + 9, 32);
}

}  // namespace

awaitable<void> HttpLockWorker(Conn& c, std::string key, Run& run, LatencyStats& stats) {
  const std::string base = "/v1/locks/" + key;
  long done = 0;
  while (!run.Done(done)) {
    auto t0 = Clock::now();
    const std::string body = co_await c.Http(base + "/acquire", R"({"timeout_s":30})");
    std::string token = JsonToken(body);
    std::string release = R"({"token":")" + token + R"("})";
    co_await c.Http(base + "/release", std::move(release));
    if (run.Measuring(t0)) stats.Add(Clock::now() - t0);
    ++done;
    ++run.ops;
  }
}

awaitable<void> RedisLockWorker(Conn& c, std::string key, Run& run, LatencyStats& stats) {
  long done = 0;
  char token[33];
  while (!run.Done(done)) {
    std::snprintf(token, sizeof token, "%016lx%016lx", static_cast<unsigned long>(done),
                  static_cast<unsigned long>(Clock::now().time_since_epoch().count()));
    auto t0 = Clock::now();
    co_await c.Send(dflockd::bench::RedisAcquire(key, token, 30000));
    std::string set = co_await c.ReadResp();
    if (set != "+OK\r\n") throw std::runtime_error("SET NX failed: " + set);
    co_await c.Send(dflockd::bench::RedisRelease(key, token));
    std::string del = co_await c.ReadResp();
    if (del != ":1\r\n") throw std::runtime_error("release failed: " + del);
    if (run.Measuring(t0)) stats.Add(Clock::now() - t0);
    ++done;
    ++run.ops;
  }
}

awaitable<void> Subscriber(Conn& c, Run& run, LatencyStats& stats, long& deliveries) {
  // co_await stays a statement or an initializer: GCC 12 miscompiles it in conditions.
  const std::string subscribed = co_await c.Request("listen\nbench.>\n\n");
  if (subscribed != "ok") throw std::runtime_error("listen failed");
  for (;;) {
    std::string line = co_await c.ReadLine();
    if (line.rfind("sig ", 0) != 0) continue;
    auto space = line.find(' ', 4);
    long long sent_ns = std::stoll(line.substr(space + 1));
    auto now = Clock::now();
    if (run.Measuring(Clock::time_point(std::chrono::nanoseconds(sent_ns)))) {
      stats.Add(now - Clock::time_point(std::chrono::nanoseconds(sent_ns)));
      ++deliveries;
    }
    ++run.ops;
    if (run.stopping) co_return;
  }
}

awaitable<void> Publisher(Conn& c, int in_flight, Run& run) {
  long done = 0;
  while (!run.Done(done)) {
    std::string batch;
    for (int i = 0; i < in_flight; ++i) {
      batch += "signal\nbench.load\n";
      batch += std::to_string(Clock::now().time_since_epoch().count());
      batch += '\n';
    }
    co_await c.Send(batch);
    for (int i = 0; i < in_flight; ++i) co_await c.ReadLine();
    ++done;
  }
}

}  // namespace dflockd::bench
