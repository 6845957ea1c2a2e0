// The one interface every adapter uses to reach the engine.
//
// Threading and lifetime protocol:
//  * All calls happen on the engine's thread. An adapter running elsewhere must post
//    to that thread first (see runtime/engine_host.h).
//  * A Completion runs exactly once, on the engine's thread: synchronously inside
//    Submit when the answer is immediate, later (inside another session's call or a
//    timer tick) when the command had to wait. It must not call back into the
//    executor synchronously; post instead.
//  * A SessionSink must stay alive until CloseSession returns or Evicted() is called.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/command.h"
#include "core/reply.h"
#include "core/status.h"
#include "core/watch.h"

namespace dflockd::core {

using SessionId = std::uint64_t;
using RequestId = std::uint64_t;
inline constexpr RequestId kNoRequest = 0;

using Completion = std::function<void(Result<Reply>)>;

/// What the engine may push to a session without being asked.
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  /// Queue a signal for delivery. Returns false, queueing nothing, when the
  /// session's bounded push queue is full.
  virtual bool Push(std::string_view channel, std::string_view payload) = 0;
  /// The engine closed this session (slow consumer): its state is already gone;
  /// the adapter should drop the transport connection.
  virtual void Evicted() = 0;
};

class CommandExecutor {
 public:
  virtual ~CommandExecutor() = default;
  /// A new client connection (or stream). `sink` may be null if it never listens.
  virtual SessionId OpenSession(SessionSink* sink) = 0;
  /// Drop waiters and two-phase state, release holds (unless auto-release is off),
  /// unsubscribe. Pending completions of the session run with kCancelled.
  virtual void CloseSession(SessionId session) = 0;
  /// Run a command. Returns an id usable with Cancel while the command waits, or
  /// kNoRequest when it already completed.
  virtual RequestId Submit(SessionId session, Command command, Completion done) = 0;
  /// The requester went away: remove its waiter. Its completion runs with kCancelled
  /// unless it already ran. A cancelled waiter is never granted.
  virtual void Cancel(RequestId request) = 0;

  /// Who a session is (transport, remote address), for watchers. Optional.
  virtual void DescribeSession(SessionId session, SessionInfo info) = 0;
  /// Starts a watch (core/watch.h): the snapshot is delivered before this returns.
  /// kInvalid for a bad pattern. `sink` must stay alive until Unwatch or WatchEvicted.
  virtual Result<WatchId> Watch(std::string pattern, WatchSink* sink) = 0;
  virtual void Unwatch(WatchId watch) = 0;
};

}  // namespace dflockd::core
