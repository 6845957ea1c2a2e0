#include "dflockd/client/signal.h"

#include "dflockd/client/async_signal.h"
#include "io_thread.h"

namespace dflockd {

struct SignalConn::Impl {
  explicit Impl(SignalOptions options) : conn(io.executor(), std::move(options)) {}
  IoThread io;  // declared first: outlives the connection that runs on it
  AsyncSignalConn conn;
};

SignalConn::SignalConn() : SignalConn(SignalOptions{}) {}

SignalConn::SignalConn(SignalOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

SignalConn::~SignalConn() {
  try {
    close();
  } catch (...) {
    // Nothing to report from a destructor; the socket is closed either way.
  }
}

void SignalConn::connect() { impl_->io.Run(impl_->conn.connect()); }
void SignalConn::listen(const std::string& pattern) { listen(pattern, std::string()); }
void SignalConn::unlisten(const std::string& pattern) { unlisten(pattern, std::string()); }
void SignalConn::listen(const std::string& pattern, const std::string& group) {
  impl_->io.Run(impl_->conn.listen(pattern, group));
}
void SignalConn::unlisten(const std::string& pattern, const std::string& group) {
  impl_->io.Run(impl_->conn.unlisten(pattern, group));
}
std::int64_t SignalConn::emit(const std::string& channel, const std::string& payload) {
  return impl_->io.Run(impl_->conn.emit(channel, payload));
}
std::optional<Signal> SignalConn::next(std::optional<std::chrono::milliseconds> timeout) {
  return impl_->io.Run(impl_->conn.next(timeout));
}
void SignalConn::close() { impl_->io.Run(impl_->conn.close()); }
bool SignalConn::is_open() const { return impl_->conn.is_open(); }
std::uint64_t SignalConn::dropped() const { return impl_->conn.dropped(); }

}  // namespace dflockd
