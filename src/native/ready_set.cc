#include "native/ready_set.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace dflockd::native {

namespace asio = boost::asio;

boost::asio::io_context::id ReadySet::id;

namespace {
/// Ready sockets taken per wake-up; the rest stay in epoll's ready list for the next.
constexpr int kMaxEvents = 256;
}  // namespace

struct ReadySet::Poller {
  explicit Poller(asio::io_context& io) : descriptor(io) {}
  asio::posix::stream_descriptor descriptor;
};

ReadySet::ReadySet(asio::io_context& io) : asio::io_context::service(io) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  }
  poller_ = std::make_unique<Poller>(io);
  poller_->descriptor.assign(::dup(epoll_fd_));  // Asio owns (and closes) its copy
}

ReadySet::~ReadySet() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool ReadySet::Add(int fd, ReadyWatcher* watcher, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watcher;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watchers_.insert(watcher);
  if (!armed_) Arm();
  return true;
}

void ReadySet::Remove(int fd, ReadyWatcher* watcher) {
  if (watchers_.erase(watcher) == 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (watchers_.empty() && armed_) poller_->descriptor.cancel();  // let io_context idle
}

void ReadySet::Arm() {
  armed_ = true;
  poller_->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                 [this](const boost::system::error_code& ec) {
                                   armed_ = false;
                                   if (!ec) Dispatch();
                                   if (!watchers_.empty() && !armed_) Arm();
                                 });
}

void ReadySet::Dispatch() {
  epoll_event events[kMaxEvents];
  const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, 0);
  if (n > 0) batch_time_ = std::chrono::steady_clock::now();
  // A watcher handled here may close another one that is further down the list: a
  // closed watcher ignores its event, and its owner outlives this loop (transports
  // release their owner through a posted handler).
  for (int i = 0; i < n; ++i) {
    static_cast<ReadyWatcher*>(events[i].data.ptr)->OnReady(events[i].events);
  }
}

void ReadySet::shutdown() {
  // Owners still registered hold themselves alive through their transport: release
  // them now, as Asio destroys the handlers of operations still pending.
  std::vector<ReadyWatcher*> left(watchers_.begin(), watchers_.end());
  watchers_.clear();
  for (ReadyWatcher* w : left) w->OnShutdown();
  poller_.reset();
}

}  // namespace dflockd::native
