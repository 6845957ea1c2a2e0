// What every benchmark worker shares: the run's phases and counters, and one
// connection with the few framings the modes need (native lines, RESP, HTTP/1.1).
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "redis_lock.h"

namespace dflockd::bench {
namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

/// Shared run state: phases and counters (one thread, no atomics needed).
struct Run {
  Clock::time_point measure_from;
  Clock::time_point stop_at;
  long rounds = 0;
  long ops = 0;  ///< completed operations, for the progress line
  bool stopping = false;
  bool Measuring(Clock::time_point t) const { return t >= measure_from; }
  bool Done(long done_rounds) const {
    return stopping || (rounds > 0 ? done_rounds >= rounds : Clock::now() >= stop_at);
  }
};

class Conn {
 public:
  explicit Conn(asio::io_context& io) : socket_(io) {}

  awaitable<void> Connect(const tcp::endpoint& endpoint) {
    co_await socket_.async_connect(endpoint, use_awaitable);
    socket_.set_option(tcp::no_delay(true));
  }

  // Coroutines take strings by value: a reference parameter would outlive nothing
  // the caller promised to keep.
  awaitable<void> Send(std::string data) {
    co_await asio::async_write(socket_, asio::buffer(data), use_awaitable);
  }

  /// The next line, without its newline.
  awaitable<std::string> ReadLine() {
    std::size_t n = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_), '\n',
                                                    use_awaitable);
    std::string line = buffer_.substr(0, n - 1);
    buffer_.erase(0, n);
    co_return line;
  }

  awaitable<std::string> Request(std::string data) {
    co_await Send(std::move(data));
    std::string reply = co_await ReadLine();
    co_return reply;
  }

  /// Everything up to and including `delimiter`.
  awaitable<std::string> ReadUntil(std::string_view delimiter) {
    std::size_t n = co_await asio::async_read_until(socket_, asio::dynamic_buffer(buffer_),
                                                    std::string(delimiter), use_awaitable);
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    co_return out;
  }

  awaitable<std::string> ReadExactly(std::size_t n) {
    if (buffer_.size() < n) {
      co_await asio::async_read(socket_, asio::dynamic_buffer(buffer_),
                                asio::transfer_at_least(n - buffer_.size()), use_awaitable);
    }
    std::string out = buffer_.substr(0, n);
    buffer_.erase(0, n);
    co_return out;
  }

  /// One RESP reply (Redis).
  awaitable<std::string> ReadResp() {
    for (;;) {
      std::size_t n = dflockd::bench::RespReplyLength(buffer_);
      if (n != 0) {
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        co_return out;
      }
      char chunk[4096];
      std::size_t got = co_await socket_.async_read_some(asio::buffer(chunk), use_awaitable);
      buffer_.append(chunk, got);
    }
  }

  /// One HTTP/1.1 keep-alive request; returns the response body.
  awaitable<std::string> Http(std::string path, std::string body) {
    std::string request = "POST " + path + " HTTP/1.1\r\nHost: bench\r\n"
                          "Content-Type: application/json\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
    co_await Send(request);
    std::string head = co_await ReadUntil("\r\n\r\n");
    auto at = head.find("Content-Length: ");
    if (head.rfind("HTTP/1.1 200", 0) != 0 || at == std::string::npos) {
      throw std::runtime_error("HTTP error: " + head.substr(0, head.find('\r')));
    }
    std::string content = co_await ReadExactly(std::stoul(head.substr(at + 16)));
    co_return content;
  }

 private:
  tcp::socket socket_;
  std::string buffer_;
};

}  // namespace dflockd::bench
