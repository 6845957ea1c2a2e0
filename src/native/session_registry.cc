#include "native/session_registry.h"

#include <algorithm>

namespace dflockd::native {

SessionRegistry::SessionRegistry(boost::asio::io_context& io,
                                 std::chrono::milliseconds read_timeout,
                                 std::chrono::milliseconds write_timeout,
                                 std::size_t max_connections, std::size_t max_per_ip)
    : sweep_timer_(io),
      read_timeout_(read_timeout),
      write_timeout_(write_timeout),
      // A timeout fires at most a quarter of itself (and never more than 250 ms) late.
      sweep_period_(std::clamp(std::min(read_timeout, write_timeout) / 4,
                               std::chrono::milliseconds(10), std::chrono::milliseconds(250))),
      limiter_(max_connections, max_per_ip) {}

SessionRegistry::~SessionRegistry() {
  while (SessionBase* s = all_.front()) Remove(s);
}

bool SessionRegistry::Admits(const std::string& ip) const { return limiter_.WouldAdmit(ip); }

void SessionRegistry::Add(SessionBase* s) {
  s->registry = this;
  all_.push_back(s);
  limiter_.Add(s->peer_ip);
  Touch(s, std::chrono::steady_clock::now());
  ArmSweep();
}

void SessionRegistry::Remove(SessionBase* s) {
  if (!List::linked(s)) return;
  s->registry = nullptr;
  all_.remove(s);
  idle_.remove(s);
  writing_.remove(s);
  limiter_.Release(s->peer_ip);
}

void SessionRegistry::Touch(SessionBase* s, SteadyTime when) {
  if (!List::linked(s)) return;  // removed sessions never rejoin a list
  s->last_activity = when;
  idle_.remove(s);
  idle_.push_back(s);
}

void SessionRegistry::Pause(SessionBase* s) { idle_.remove(s); }

void SessionRegistry::WriteBegin(SessionBase* s) {
  if (!List::linked(s)) return;
  s->write_started = std::chrono::steady_clock::now();
  writing_.remove(s);
  writing_.push_back(s);
}

void SessionRegistry::WriteEnd(SessionBase* s) { writing_.remove(s); }

void SessionRegistry::AbortAll() {
  // Abort() removes the session from the list, so always take the front.
  while (SessionBase* s = all_.front()) {
    s->Abort();
    Remove(s);
  }
}

void SessionRegistry::ArmSweep() {
  if (sweep_armed_ || all_.empty()) return;
  sweep_armed_ = true;
  sweep_timer_.expires_after(sweep_period_);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    sweep_armed_ = false;
    if (!ec) Sweep();
  });
}

void SessionRegistry::Sweep() {
  const auto now = std::chrono::steady_clock::now();
  while (SessionBase* s = writing_.front()) {
    if (now - s->write_started < write_timeout_) break;
    writing_.remove(s);
    s->Abort();
    Remove(s);
  }
  while (SessionBase* s = idle_.front()) {
    if (now - s->last_activity < read_timeout_) break;
    idle_.remove(s);
    s->OnReadTimeout();
  }
  ArmSweep();
}

}  // namespace dflockd::native
