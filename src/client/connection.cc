// The blocking connection and the low-level functions declared in connection.h.
#include "dflockd/client/connection.h"

#include "dflockd/client/async_connection.h"
#include "io_thread.h"
#include "ops.h"

namespace dflockd {

struct Connection::Impl {
  IoThread io;  // declared first: outlives the connection that runs on it
  std::optional<AsyncConnection> conn;
};

Connection::Connection() : Connection(ServerAddress{}, ConnectOptions{}) {}
Connection::Connection(ServerAddress server) : Connection(std::move(server), ConnectOptions{}) {}

Connection::Connection(ServerAddress server, ConnectOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->conn.emplace(impl_->io.Run(
      AsyncConnection::connect(impl_->io.executor(), std::move(server), std::move(options))));
}

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() {
  if (impl_) impl_->conn.reset();  // closes the socket (on the I/O thread)
}

std::string Connection::call(std::string request, std::chrono::seconds server_wait) {
  return impl_->io.Run(impl_->conn->call(std::move(request), server_wait));
}

bool Connection::is_open() const { return impl_ && impl_->conn->is_open(); }
void Connection::close() { impl_->conn->close(); }

namespace {
using ops::Op;
using wire::Resource;
using Lease = std::optional<std::chrono::seconds>;

template <class T>
T Run(Connection& c, Op<T> op) {
  auto reply = c.call(std::move(op.request.bytes), op.request.server_wait);
  if constexpr (std::is_void_v<T>) {
    op.parse(reply);
  } else {
    return op.parse(reply);
  }
}
}  // namespace

Grant acquire(Connection& c, std::string_view key, std::chrono::seconds timeout, Lease lease) {
  return Run(c, ops::Acquire(Resource::kLock, key, timeout, 1, lease));
}
void release(Connection& c, std::string_view key, std::string_view token) {
  Run(c, ops::Release(Resource::kLock, key, token));
}
std::int64_t renew(Connection& c, std::string_view key, std::string_view token, Lease lease) {
  return Run(c, ops::Renew(Resource::kLock, key, token, lease));
}
EnqueueResult enqueue(Connection& c, std::string_view key, Lease lease) {
  return Run(c, ops::Enqueue(Resource::kLock, key, 1, lease));
}
Grant wait(Connection& c, std::string_view key, std::chrono::seconds timeout) {
  return Run(c, ops::Wait(Resource::kLock, key, timeout));
}
Grant sem_acquire(Connection& c, std::string_view key, std::chrono::seconds timeout,
                  std::uint32_t limit, Lease lease) {
  return Run(c, ops::Acquire(Resource::kSemaphore, key, timeout, limit, lease));
}
void sem_release(Connection& c, std::string_view key, std::string_view token) {
  Run(c, ops::Release(Resource::kSemaphore, key, token));
}
std::int64_t sem_renew(Connection& c, std::string_view key, std::string_view token, Lease lease) {
  return Run(c, ops::Renew(Resource::kSemaphore, key, token, lease));
}
EnqueueResult sem_enqueue(Connection& c, std::string_view key, std::uint32_t limit, Lease lease) {
  return Run(c, ops::Enqueue(Resource::kSemaphore, key, limit, lease));
}
Grant sem_wait(Connection& c, std::string_view key, std::chrono::seconds timeout) {
  return Run(c, ops::Wait(Resource::kSemaphore, key, timeout));
}
Stats stats(Connection& c) { return Run(c, ops::Stats()); }
std::int64_t sig_emit(Connection& c, std::string_view channel, std::string_view payload) {
  return Run(c, ops::Emit(channel, payload));
}
void ping(Connection& c) { Run(c, ops::Ping()); }
std::vector<ServerAddress> discover_servers(Connection& c) { return Run(c, ops::Topology()); }

}  // namespace dflockd
