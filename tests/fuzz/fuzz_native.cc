// The native protocol end to end, minus the socket: input bytes are framed by the
// request parser, mapped to commands, run by a real engine (two sessions, a clock
// that moves) and answered by the response writer. Invariants: the parser always
// makes progress, every reply is exactly one line, nothing crashes or leaks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/engine.h"
#include "native/command_mapper.h"
#include "native/request_parser.h"
#include "native/response_writer.h"

namespace {

class ManualClock final : public dflockd::core::Clock {
 public:
  dflockd::core::TimePoint Now() const override { return now; }
  dflockd::core::TimePoint now{std::chrono::hours(1)};
};

void CheckOneLine(const std::string& reply) {
  if (reply.empty() || reply.back() != '\n' || reply.find('\n') != reply.size() - 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dflockd;
  ManualClock clock;
  core::TokenSource tokens(1000);
  core::EngineConfig config;
  config.max_locks = 64;
  config.max_waiters = 8;
  config.max_subscriptions = 8;
  config.lock_delay_s = 1;
  core::Engine engine(config, clock, tokens);
  const core::SessionId sessions[2] = {engine.OpenSession(nullptr), engine.OpenSession(nullptr)};
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t requests = 0;
  while (!input.empty()) {
    native::ParseOutcome parsed = native::ParseRequest(input);
    if (parsed.status == native::ParseStatus::kNeedMore) break;
    if (parsed.status == native::ParseStatus::kOversize) break;  // the session closes
    if (parsed.consumed == 0 || parsed.consumed > input.size()) __builtin_trap();
    // The second session speaks as another shard would (sharded mode): `delay=`
    // fields and the exact error words.
    const bool peer = requests % 2 == 1;
    native::MappedRequest m = native::MapRequest(parsed.request, peer);
    if (m.kind == native::RequestKind::kCommand) {
      const bool enqueue = m.enqueue;
      engine.Submit(sessions[requests % 2], std::move(m.command),
                    [enqueue, peer](core::Result<core::Reply> r) {
                      std::string reply;
                      native::AppendResponse(reply, r, enqueue,
                                             peer ? native::Vocabulary::kPeer
                                                  : native::Vocabulary::kClient);
                      CheckOneLine(reply);
                    });
    }
    input.remove_prefix(parsed.consumed);
    if (++requests % 4 == 0) {  // time passes: leases expire, waits time out
      clock.now += std::chrono::milliseconds(700);
      engine.Tick();
    }
  }
  engine.CloseSession(sessions[0]);
  clock.now += std::chrono::seconds(100);
  engine.Tick();
  return 0;
}
