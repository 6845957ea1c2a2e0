// A private io_context on its own thread: what lets the blocking API reuse the
// coroutine implementation (renewal, signal reading) unchanged.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <thread>

#include "dflockd/client/errors.h"

namespace dflockd {

class IoThread {
 public:
  IoThread() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {}
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  /// Runs the coroutine on the thread and blocks for its result (or exception).
  template <class T>
  T Run(boost::asio::awaitable<T> op) {
    if (std::this_thread::get_id() == thread_.get_id()) {
      throw Error("a blocking dflockd call from one of its own callbacks would deadlock");
    }
    return boost::asio::co_spawn(io_, std::move(op), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace dflockd
