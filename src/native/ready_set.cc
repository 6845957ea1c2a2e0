#include "native/ready_set.h"

#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/post.hpp>
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

// Asio's reactor watches the set's descriptor through a reactor operation of ours, not
// through `async_wait`: Asio never tries a wait speculatively, so every `async_wait`
// re-arms the descriptor with an `epoll_ctl` (a system call per wake-up, the whole
// cost when one client sends one request at a time). This operation completes "done
// and exhausted" without doing any I/O, which is what Asio's own reads report when a
// socket has been drained: the edge-triggered registration stays as it is and the
// next wait is a queue push. The operation is reused, never allocated per wait.
struct ReadySet::Poller final : asio::detail::reactor_op {
  Poller(asio::io_context& io, int fd, ReadySet* owner)
      : reactor_op(boost::system::error_code(), &Perform, &Complete),
        reactor(asio::use_service<asio::detail::reactor>(
            static_cast<asio::execution_context&>(io))),
        fd(fd),
        owner(owner) {
    reactor.init_task();
    if (const int err = reactor.register_descriptor(fd, data)) {
      ::close(fd);
      throw std::runtime_error(std::string("epoll set registration: ") + std::strerror(err));
    }
  }

  void Start() {
    ec_ = boost::system::error_code();
    reactor.start_op(asio::detail::reactor::read_op, fd, data, this,
                     /*is_continuation=*/false, /*allow_speculative=*/true);
  }
  void Cancel() { reactor.cancel_ops(fd, data); }
  void Close() {
    if (fd < 0) return;
    // Not `closing`: the set's own descriptor still refers to the same epoll instance,
    // so closing this copy would not take it out of Asio's epoll.
    reactor.deregister_descriptor(fd, data, /*closing=*/false);
    ::close(fd);
    reactor.cleanup_descriptor_data(data);
    fd = -1;
  }
  ~Poller() { Close(); }

  /// Readiness is the whole result: Dispatch takes the ready sockets.
  static status Perform(reactor_op*) { return done_and_exhausted; }
  static void Complete(void* scheduler, asio::detail::operation* base,
                       const boost::system::error_code&, std::size_t) {
    auto* self = static_cast<Poller*>(base);
    // No scheduler: Asio is destroying the queued operation at shutdown.
    if (scheduler == nullptr) {
      self->owner->waiting_ = false;
      return;
    }
    self->owner->Wake(!self->ec_);
  }

  asio::detail::reactor& reactor;
  asio::detail::reactor::per_descriptor_data data = nullptr;
  int fd;
  ReadySet* owner;
};

ReadySet::ReadySet(asio::io_context& io) : asio::io_context::service(io) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
  }
  try {
    poller_ = std::make_unique<Poller>(io, ::dup(epoll_fd_), this);  // Asio's own copy
  } catch (...) {
    ::close(epoll_fd_);
    throw;
  }
}

// The poller outlives shutdown(): Asio may still hold its operation until the
// scheduler shuts down after this service.
ReadySet::~ReadySet() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

bool ReadySet::Add(int fd, ReadyWatcher* watcher, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = watcher;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watchers_.insert(watcher);
  if (!waiting_) Arm();
  return true;
}

void ReadySet::Remove(int fd, ReadyWatcher* watcher) {
  if (watchers_.erase(watcher) == 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  if (watchers_.empty() && waiting_) poller_->Cancel();  // let io_context idle
}

void ReadySet::Arm() {
  waiting_ = true;
  poller_->Start();
}

void ReadySet::Wake(bool ready) {
  waiting_ = false;
  if (ready) TakeBatch();
  if (!watchers_.empty() && !waiting_) Arm();
}

void ReadySet::TakeBatch() {
  if (!Dispatch() || batch_posted_) return;
  // More sockets are ready than one batch takes, and the set's descriptor need not
  // report a new edge for them: take the next batch after what else is queued (also
  // when a watcher of this batch registered a socket, and so armed the wait, meanwhile).
  batch_posted_ = true;
  asio::post(get_io_context(), [this] {
    batch_posted_ = false;
    TakeBatch();
  });
}

bool ReadySet::Dispatch() {
  epoll_event events[kMaxEvents];
  const int n = ::epoll_wait(epoll_fd_, events, kMaxEvents, 0);
  if (n > 0) batch_time_ = std::chrono::steady_clock::now();
  // A watcher handled here may close another one that is further down the list: a
  // closed watcher ignores its event, and its owner outlives this loop (transports
  // release their owner through a posted handler).
  for (int i = 0; i < n; ++i) {
    static_cast<ReadyWatcher*>(events[i].data.ptr)->OnReady(events[i].events);
  }
  return n == kMaxEvents;
}

void ReadySet::shutdown() {
  // Owners still registered hold themselves alive through their transport: release
  // them now, as Asio destroys the handlers of operations still pending.
  std::vector<ReadyWatcher*> left(watchers_.begin(), watchers_.end());
  watchers_.clear();
  for (ReadyWatcher* w : left) w->OnShutdown();
  poller_->Close();
}

}  // namespace dflockd::native
