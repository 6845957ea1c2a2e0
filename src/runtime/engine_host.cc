#include "runtime/engine_host.h"

#include <utility>

namespace dflockd::runtime {

EngineHost::EngineHost(boost::asio::io_context& io, core::Engine& engine)
    : io_(io), engine_(engine), timer_(io) {}

core::SessionId EngineHost::OpenSession(core::SessionSink* sink) {
  return engine_.OpenSession(sink);
}

void EngineHost::CloseSession(core::SessionId session) {
  engine_.CloseSession(session);
  Rearm();
}

core::RequestId EngineHost::Submit(core::SessionId session, core::Command command,
                                   core::Completion done) {
  core::RequestId id = engine_.Submit(session, std::move(command), std::move(done));
  Rearm();
  return id;
}

void EngineHost::Cancel(core::RequestId request) {
  engine_.Cancel(request);
  Rearm();
}

void EngineHost::Start() {
  stopped_ = false;
  armed_ = core::kNever;
  Rearm();
}

void EngineHost::Stop() {
  stopped_ = true;
  timer_.cancel();
}

void EngineHost::Rearm() {
  // Deadlines only matter when they move earlier than the armed one; a timer that
  // fires early just finds nothing due and re-arms, which is cheaper than resetting
  // the timer on every command.
  core::TimePoint next = engine_.NextDeadline();
  if (stopped_ || next >= armed_) return;
  armed_ = next;
  timer_.expires_at(std::chrono::steady_clock::time_point(
      std::chrono::duration_cast<std::chrono::steady_clock::duration>(next.time_since_epoch())));
  timer_.async_wait([this](const boost::system::error_code& ec) { OnTimer(ec); });
}

void EngineHost::OnTimer(const boost::system::error_code& ec) {
  if (ec == boost::asio::error::operation_aborted || stopped_) return;
  armed_ = core::kNever;
  engine_.Tick();
  Rearm();
}

void EngineHost::DescribeSession(core::SessionId session, core::SessionInfo info) {
  engine_.DescribeSession(session, std::move(info));
}

core::Result<core::WatchId> EngineHost::Watch(std::string pattern, core::WatchSink* sink) {
  return engine_.Watch(std::move(pattern), sink);
}

void EngineHost::Unwatch(core::WatchId watch) { engine_.Unwatch(watch); }

}  // namespace dflockd::runtime
