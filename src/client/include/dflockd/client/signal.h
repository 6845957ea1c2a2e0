// Signals (NATS-style pub/sub) with a blocking API.
//
//   dflockd::SignalConn sc;              // 127.0.0.1:6388 unless options.server says otherwise
//   sc.listen("events.>");
//   for (const dflockd::Signal& s : sc) std::cout << s.channel << ": " << s.payload << '\n';
//
// A background thread reads the connection; iteration ends cleanly when the
// connection is closed (by close() from another thread, or by the server).
#pragma once

#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "dflockd/client/options.h"
#include "dflockd/client/types.h"

namespace dflockd {

class SignalConn {
 public:
  // Overloads, not default arguments of class type: GCC 12 copies such a default
  // bitwise when the call sits in a coroutine, leaving strings that point at freed memory.
  SignalConn();  ///< 127.0.0.1:6388
  explicit SignalConn(SignalOptions options);
  SignalConn(const SignalConn&) = delete;
  SignalConn& operator=(const SignalConn&) = delete;
  ~SignalConn();

  void connect();  ///< optional: the other calls connect on first use
  void listen(const std::string& pattern);
  void listen(const std::string& pattern, const std::string& group);
  void unlisten(const std::string& pattern);
  void unlisten(const std::string& pattern, const std::string& group);
  std::int64_t emit(const std::string& channel, const std::string& payload);  ///< deliveries
  /// Blocks for the next signal; empty on timeout or once closed.
  std::optional<Signal> next(std::optional<std::chrono::milliseconds> timeout = {});
  void close();
  bool is_open() const;
  std::uint64_t dropped() const;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Signal;
    using difference_type = std::ptrdiff_t;
    using pointer = const Signal*;
    using reference = const Signal&;

    iterator() = default;
    explicit iterator(SignalConn* conn) : conn_(conn) { ++*this; }
    reference operator*() const { return *current_; }
    pointer operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = conn_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.current_; }

   private:
    SignalConn* conn_ = nullptr;
    std::optional<Signal> current_;
  };

  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace dflockd
