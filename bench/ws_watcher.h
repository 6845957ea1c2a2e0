// A WebSocket watcher for the cost benchmark (`--watchers`): watches every key (`>`)
// and counts the events it reads, on a thread of its own, as a dashboard would.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace dflockd::bench {

class WsWatcher {
 public:
  /// `http` is the server's HTTP host:port.
  explicit WsWatcher(std::string http);
  ~WsWatcher();
  WsWatcher(const WsWatcher&) = delete;
  WsWatcher& operator=(const WsWatcher&) = delete;

  /// Connects and starts watching; returns once the snapshot has arrived. Throws.
  void Start();
  void Stop();
  long events() const { return events_.load(std::memory_order_relaxed); }
  /// True if the server closed the socket (a watcher that fell behind is dropped).
  bool dropped() const { return dropped_.load(); }

 private:
  struct Impl;
  std::string http_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<long> events_{0};
  std::atomic<bool> dropped_{false};
  std::atomic<bool> stopping_{false};
};

}  // namespace dflockd::bench
