// Book-keeping for the open native connections of one listener: connection caps,
// read-idle and write timeouts, and forced close at shutdown.
//
// Timeouts without a timer per connection: sessions sit in two lists ordered by
// the time they were last touched (moved to the tail on every request, O(1)), so a
// periodic sweep only ever looks at the heads of the lists.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "core/intrusive_list.h"
#include "limits/connection_limiter.h"

namespace dflockd::native {

using SteadyTime = std::chrono::steady_clock::time_point;

class SessionRegistry;

/// What the registry needs from a session.
class SessionBase {
 public:
  virtual ~SessionBase() = default;
  /// Idle too long: write `error` and close.
  virtual void OnReadTimeout() = 0;
  /// Close at once, without writing (write timeout, forced shutdown).
  virtual void Abort() = 0;

  core::ListHook<SessionBase> in_all;
  core::ListHook<SessionBase> in_idle;
  core::ListHook<SessionBase> in_writing;
  SteadyTime last_activity{};
  SteadyTime write_started{};
  std::string peer_ip;
  SessionRegistry* registry = nullptr;  ///< null once removed
};

class SessionRegistry {
 public:
  SessionRegistry(boost::asio::io_context& io, std::chrono::milliseconds read_timeout,
                  std::chrono::milliseconds write_timeout, std::size_t max_connections,
                  std::size_t max_per_ip);
  ~SessionRegistry();

  /// False if a connection cap forbids another connection from `ip`.
  bool Admits(const std::string& ip) const;
  void Add(SessionBase* s);
  void Remove(SessionBase* s);
  /// A request line arrived at `when`: restart the idle clock.
  void Touch(SessionBase* s, SteadyTime when);
  /// A blocking command is waiting: no read timeout until the next Touch.
  void Pause(SessionBase* s);
  void WriteBegin(SessionBase* s);
  void WriteEnd(SessionBase* s);
  /// Abort every session (shutdown timeout).
  void AbortAll();
  std::size_t size() const { return all_.size(); }

 private:
  void ArmSweep();
  void Sweep();

  using List = core::IntrusiveList<SessionBase, &SessionBase::in_all>;
  using IdleList = core::IntrusiveList<SessionBase, &SessionBase::in_idle>;
  using WritingList = core::IntrusiveList<SessionBase, &SessionBase::in_writing>;

  boost::asio::steady_timer sweep_timer_;
  std::chrono::milliseconds read_timeout_;
  std::chrono::milliseconds write_timeout_;
  std::chrono::milliseconds sweep_period_;
  limits::ConnectionLimiter limiter_;
  List all_;
  IdleList idle_;
  WritingList writing_;
  bool sweep_armed_ = false;
};

}  // namespace dflockd::native
