#include "native_loop.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace dflockd::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Flavour = NativeLoopPlan::Flavour;

enum class Step { kAcquire, kWait, kRelease };

struct Connection {
  int fd = -1;
  Step step = Step::kAcquire;
  std::string acquire;         ///< `l`, `sl` or `e` request
  std::string wait;            ///< two-phase only
  std::string release_prefix;  ///< `r`/`sr` + key; the token and `\n` follow
  std::string release;         ///< reused request buffer
  std::string input;           ///< bytes of a reply line not yet complete
  std::string token;
  Clock::time_point started;
  long done = 0;
  bool idle = false;  ///< finished: no request outstanding
};

[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what); }

/// "<word> <token> <lease>": the token.
std::string_view TokenOf(std::string_view line) {
  const auto a = line.find(' ');
  const auto b = a == std::string_view::npos ? a : line.find(' ', a + 1);
  if (b == std::string_view::npos) Fail("unexpected reply: " + std::string(line));
  return line.substr(a + 1, b - a - 1);
}

void SendAll(int fd, const std::string& data) {
  // Requests are tiny and one is outstanding per connection: the socket buffer always
  // takes a request whole, so a blocking write never waits here.
  std::size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::write(fd, data.data() + sent, data.size() - sent);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) Fail(std::string("write: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
}

int Connect(const NativeLoopPlan::Worker& w) {
  const int fd = ::socket(w.server.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&w.server), w.server_size) != 0) {
    const int err = errno;
    ::close(fd);
    Fail(std::string("connect: ") + std::strerror(err));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

class Loop {
 public:
  explicit Loop(const NativeLoopPlan& plan) : plan_(plan), conns_(plan.workers.size()) {
    result_.per_worker.resize(plan.workers.size());
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) Fail(std::string("epoll_create1: ") + std::strerror(errno));
  }
  ~Loop() {
    for (auto& c : conns_) {
      if (c.fd >= 0) ::close(c.fd);
    }
    ::close(epoll_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  NativeLoopResult Run() {
    const auto start = Clock::now();
    for (std::size_t i = 0; i < conns_.size(); ++i) Open(i);
    for (std::size_t i = 0; i < conns_.size(); ++i) StartOperation(conns_[i]);
    epoll_event events[256];
    auto next_tick = Clock::now() + std::chrono::seconds(1);
    long ops_at_tick = 0;
    int stalled_for = 0;
    while (busy_ > 0) {
      const int n = ::epoll_wait(epoll_, events, 256, 100);
      if (n < 0 && errno != EINTR) Fail(std::string("epoll_wait: ") + std::strerror(errno));
      for (int e = 0; e < n; ++e) OnReadable(conns_[events[e].data.u32], events[e].data.u32);
      if (const auto now = Clock::now(); now >= next_tick) {
        next_tick = now + std::chrono::seconds(1);
        if (plan_.progress) {
          std::fprintf(stderr, "\r%s: %ld ops/s (%s)   ", plan_.progress_label.c_str(),
                       ops_ - ops_at_tick, now < plan_.measure_from ? "warm-up" : "measuring");
        }
        // Nothing completing for 10 s means a server that stopped answering.
        stalled_for = ops_ == ops_at_tick ? stalled_for + 1 : 0;
        if (stalled_for >= 10) Fail("no operation completed for 10 s");
        ops_at_tick = ops_;
      }
    }
    if (plan_.progress) std::fprintf(stderr, "\r%60s\r", "");
    const auto end = Clock::now();
    result_.seconds = plan_.rounds > 0
                          ? std::chrono::duration<double>(end - start).count()
                          : std::chrono::duration<double>(std::min(end, plan_.stop_at) -
                                                          plan_.measure_from)
                                .count();
    return std::move(result_);
  }

 private:
  void Open(std::size_t i) {
    Connection& c = conns_[i];
    const auto& w = plan_.workers[i];
    c.fd = Connect(w);
    switch (plan_.flavour) {
      case Flavour::kLock:
        c.acquire = "l\n" + w.key + "\n30\n";
        c.release_prefix = "r\n" + w.key + "\n";
        break;
      case Flavour::kSemaphore:
        c.acquire = "sl\n" + w.key + "\n30 " + std::to_string(plan_.semaphore_limit) + "\n";
        c.release_prefix = "sr\n" + w.key + "\n";
        break;
      case Flavour::kTwoPhase:
        c.acquire = "e\n" + w.key + "\n\n";
        c.wait = "w\n" + w.key + "\n30\n";
        c.release_prefix = "r\n" + w.key + "\n";
        break;
    }
    c.input.reserve(128);
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: read only when a reply is there
    ev.data.u32 = static_cast<std::uint32_t>(i);
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
      Fail(std::string("epoll_ctl: ") + std::strerror(errno));
    }
  }

  bool Finished(const Connection& c, Clock::time_point now) const {
    return plan_.rounds > 0 ? c.done >= plan_.rounds : now >= plan_.stop_at;
  }

  void StartOperation(Connection& c, Clock::time_point now = Clock::now()) {
    if (Finished(c, now)) {
      c.idle = true;
      return;
    }
    ++busy_;
    c.step = Step::kAcquire;
    c.started = now;
    SendAll(c.fd, c.acquire);
  }

  void OnReadable(Connection& c, std::uint32_t index) {
    char buffer[4096];
    const ssize_t n = ::read(c.fd, buffer, sizeof buffer);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) Fail(n == 0 ? "server closed the connection" : std::strerror(errno));
    if (c.idle) Fail("unexpected bytes from the server");
    c.input.append(buffer, static_cast<std::size_t>(n));
    std::size_t from = 0;
    std::size_t nl;
    while ((nl = c.input.find('\n', from)) != std::string::npos) {
      OnReply(c, index, std::string_view(c.input).substr(from, nl - from));
      from = nl + 1;
    }
    c.input.erase(0, from);
  }

  void OnReply(Connection& c, std::uint32_t index, std::string_view line) {
    switch (c.step) {
      case Step::kAcquire:
        if (plan_.flavour == Flavour::kTwoPhase) {
          if (line.rfind("acquired ", 0) == 0) {
            c.token = TokenOf(line);
          } else if (line != "queued") {
            Fail("enqueue failed: " + std::string(line));
          }
          c.step = Step::kWait;
          return SendAll(c.fd, c.wait);
        }
        if (line.rfind("ok ", 0) != 0) Fail("acquire failed: " + std::string(line));
        c.token = TokenOf(line);
        return SendRelease(c);
      case Step::kWait:
        if (line.rfind("ok ", 0) != 0) Fail("wait failed: " + std::string(line));
        c.token = TokenOf(line);
        return SendRelease(c);
      case Step::kRelease: {
        if (line != "ok") Fail("release failed: " + std::string(line));
        const auto finished = Clock::now();
        if (c.started >= plan_.measure_from) result_.per_worker[index].Add(finished - c.started);
        ++c.done;
        ++ops_;
        --busy_;
        return StartOperation(c, finished);
      }
    }
  }

  void SendRelease(Connection& c) {
    c.step = Step::kRelease;
    c.release.assign(c.release_prefix).append(c.token).push_back('\n');
    SendAll(c.fd, c.release);
  }

  const NativeLoopPlan& plan_;
  std::vector<Connection> conns_;
  NativeLoopResult result_;
  int epoll_ = -1;
  long busy_ = 0;  ///< connections with an operation outstanding
  long ops_ = 0;
};

}  // namespace

NativeLoopResult RunNativeLoop(const NativeLoopPlan& plan) {
  Loop loop(plan);
  return loop.Run();
}

}  // namespace dflockd::bench
