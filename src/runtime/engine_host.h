// Runs the engine on an io_context thread and drives its timers.
//
// Threading: the host, the engine and every call through CommandExecutor belong to
// the io_context's single thread. The native listener and its sessions run on the
// same io_context, so they call the executor directly; code on other threads must
// asio::post to that io_context first.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/engine.h"

namespace dflockd::runtime {

class EngineHost final : public core::CommandExecutor {
 public:
  EngineHost(boost::asio::io_context& io, core::Engine& engine);

  core::SessionId OpenSession(core::SessionSink* sink) override;
  void CloseSession(core::SessionId session) override;
  core::RequestId Submit(core::SessionId session, core::Command command,
                         core::Completion done) override;
  void Cancel(core::RequestId request) override;
  void DescribeSession(core::SessionId session, core::SessionInfo info) override;
  core::Result<core::WatchId> Watch(std::string pattern, core::WatchSink* sink) override;
  void Unwatch(core::WatchId watch) override;

  /// Arms the timer for the engine's first deadline. Call once the loop is set up.
  void Start();
  void Stop();
  /// Re-arms the timer after the engine's deadlines changed outside a call through
  /// this host (a durable-mode leader restoring its state).
  void Rearm();

 private:
  void OnTimer(const boost::system::error_code& ec);

  boost::asio::io_context& io_;
  core::Engine& engine_;
  boost::asio::steady_timer timer_;
  core::TimePoint armed_ = core::kNever;
  bool stopped_ = true;
};

}  // namespace dflockd::runtime
