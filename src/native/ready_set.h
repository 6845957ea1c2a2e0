// Readiness for the plain native sockets of one io_context, outside Asio's reactor.
//
// Why: after every completion Asio tries the next read speculatively (an EAGAIN
// `recv` for a quarter of the requests of a lock benchmark), and every readiness
// event becomes a reactor op queued through the scheduler before its handler runs.
// Here the sockets sit in an epoll set of our own (edge-triggered, registered once,
// so readiness is served in arrival order as with Asio); that set's descriptor is one
// more descriptor of the io_context, so one Asio wake-up delivers a whole batch of
// ready sockets, each handled in place by one `recv` and one `send`, and waiting for
// the next wake-up costs no system call (ready_set.cc says how). Measured in
// docs/benchmarks.md. Timers, TLS, HTTP and everything else stay on Asio.
#pragma once

#include <sys/epoll.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_set>

namespace dflockd::native {

/// A socket in a ReadySet.
class ReadyWatcher {
 public:
  /// `events`: EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR as epoll reported them.
  virtual void OnReady(std::uint32_t events) = 0;
  /// The io_context is being destroyed: drop any reference that keeps the owner alive.
  virtual void OnShutdown() = 0;

 protected:
  ~ReadyWatcher() = default;
};

class ReadySet final : public boost::asio::io_context::service {
 public:
  static boost::asio::io_context::id id;

  explicit ReadySet(boost::asio::io_context& io);
  ~ReadySet() override;

  /// Registers `fd` for `watcher` with `events` (EPOLLET for edges). False (errno set)
  /// if epoll refused it. While anything is registered, the io_context has work.
  bool Add(int fd, ReadyWatcher* watcher, std::uint32_t events);
  /// Unregisters `fd` (before it is closed); `watcher` gets no more calls.
  void Remove(int fd, ReadyWatcher* watcher);

  /// When the batch being handled was taken from epoll: one clock read shared by every
  /// socket of the batch (for idle tracking and request latency).
  std::chrono::steady_clock::time_point batch_time() const { return batch_time_; }

 private:
  void shutdown() override;
  void Arm();
  /// The set's descriptor was ready (`ready`) or its wait was cancelled.
  void Wake(bool ready);
  /// Dispatches a batch, and comes back for the next one if it was full.
  void TakeBatch();
  /// Handles one batch; true if it was full (more may be ready).
  bool Dispatch();

  struct Poller;  // Asio's reactor operation on the epoll descriptor (keeps detail headers out)
  int epoll_fd_ = -1;
  std::unique_ptr<Poller> poller_;
  std::unordered_set<ReadyWatcher*> watchers_;
  bool waiting_ = false;       ///< the poller's operation is with Asio
  bool batch_posted_ = false;  ///< TakeBatch is posted for sockets a full batch left
  std::chrono::steady_clock::time_point batch_time_{};
};

}  // namespace dflockd::native
