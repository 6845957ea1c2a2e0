// Framing of the native protocol (§1): a request is exactly three `\n`-terminated
// lines. Pure: no I/O, no state; the session keeps the bytes.
#pragma once

#include <cstddef>
#include <string_view>

namespace dflockd::native {

/// Content cap of a request line, `\r` included.
inline constexpr std::size_t kMaxLine = 256;
/// Cap of the arg line of `auth` and `signal`.
inline constexpr std::size_t kMaxLongArg = 65536;

/// The three lines of a request, trailing `\r` stripped. Views into the input.
struct RawRequest {
  std::string_view command;
  std::string_view key;
  std::string_view arg;
};

enum class ParseStatus {
  kNeedMore,  ///< no complete request yet
  kRequest,   ///< `request` holds one; drop `consumed` bytes
  kOversize,  ///< a line is over its cap: answer `error` and close
};

struct ParseOutcome {
  ParseStatus status = ParseStatus::kNeedMore;
  std::size_t consumed = 0;
  RawRequest request;
};

/// Parses the first request at the start of `input`.
ParseOutcome ParseRequest(std::string_view input);

}  // namespace dflockd::native
