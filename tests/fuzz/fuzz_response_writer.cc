// The response writer from arbitrary replies: grants, acks, counts, stats snapshots
// with arbitrary keys, every error code, and pushes. Each response must be one line;
// stats must be valid JSON with the same number of entries; a grant must read back
// as `ok|acquired <32 hex> <lease>`.
#include <boost/json/parse.hpp>
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/reply.h"
#include "core/token.h"
#include "native/response_writer.h"

namespace {

void CheckOneLine(const std::string& s) {
  if (s.empty() || s.back() != '\n' || s.find('\n') != s.size() - 1) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dflockd;
  FuzzedDataProvider in(data, size);
  const bool enqueue = in.ConsumeBool();
  std::string out;
  switch (in.ConsumeIntegralInRange<int>(0, 6)) {
    case 0: {
      const core::Token token{in.ConsumeIntegral<std::uint64_t>(),
                              in.ConsumeIntegral<std::uint64_t>()};
      core::Granted g{token, in.ConsumeIntegral<std::int64_t>()};
      native::AppendResponse(out, core::Result<core::Reply>(core::Reply{g}), enqueue);
      CheckOneLine(out);
      const std::string_view status = enqueue ? "acquired " : "ok ";
      if (out.rfind(status, 0) != 0) __builtin_trap();
      // The digits written are the token's, and read back as it.
      if (core::ParseToken(std::string_view(out).substr(status.size(), core::kTokenDigits)) !=
          token) {
        __builtin_trap();
      }
      break;
    }
    case 1:
      native::AppendResponse(out, core::Result<core::Reply>(core::Reply{core::Queued{}}), enqueue);
      CheckOneLine(out);
      break;
    case 2:
      native::AppendResponse(
          out, core::Result<core::Reply>(core::Reply{core::Published{in.ConsumeIntegral<std::uint64_t>()}}),
          enqueue);
      CheckOneLine(out);
      break;
    case 3: {
      auto code = static_cast<core::ErrorCode>(
          in.ConsumeIntegralInRange<int>(0, static_cast<int>(core::ErrorCode::kFenceUnavailable)));
      native::AppendResponse(out, core::Result<core::Reply>(code), enqueue);
      CheckOneLine(out);
      break;
    }
    case 4: {
      core::StatsSnapshot s;
      s.connections = in.ConsumeIntegral<std::uint32_t>();
      const int n = in.ConsumeIntegralInRange<int>(0, 8);
      for (int i = 0; i < n; ++i) {
        core::StatsSnapshot::Lock l;
        l.key = in.ConsumeRandomLengthString(300);
        l.lease_expires_in_s = in.ConsumeFloatingPoint<double>();
        l.lock_delay_remaining_s = in.ConsumeFloatingPoint<double>();
        s.locks.push_back(l);
        s.signal_channels.push_back({in.ConsumeRandomLengthString(64), in.ConsumeRandomLengthString(16),
                                     in.ConsumeIntegral<std::uint32_t>()});
      }
      s.restart_grace_remaining_s = in.ConsumeFloatingPoint<double>();
      s.fences_unavailable = in.ConsumeBool();
      native::AppendResponse(out, core::Result<core::Reply>(core::Reply{s}), enqueue);
      CheckOneLine(out);
      boost::system::error_code ec;
      auto doc = boost::json::parse(std::string_view(out).substr(3, out.size() - 4), ec);
      if (ec || doc.at("locks").as_array().size() != s.locks.size()) __builtin_trap();
      break;
    }
    case 5: {
      std::string channel = in.ConsumeRandomLengthString(300);
      std::string payload = in.ConsumeRemainingBytesAsString();
      native::AppendPush(out, channel, payload);
      if (out.rfind("sig ", 0) != 0 || out.back() != '\n') __builtin_trap();
      break;
    }
    default:
      native::AppendResponse(out, core::Result<core::Reply>(core::Reply{core::Ack{}}), enqueue);
      CheckOneLine(out);
  }
  return 0;
}
