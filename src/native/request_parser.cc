#include "native/request_parser.h"

#include <cstring>

namespace dflockd::native {
namespace {

std::size_t ArgCap(std::string_view command) {
  return command == "auth" || command == "signal" ? kMaxLongArg : kMaxLine;
}

std::string_view StripCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

ParseOutcome ParseRequest(std::string_view input) {
  ParseOutcome out;
  std::string_view lines[3];
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    std::size_t cap = i < 2 ? kMaxLine : ArgCap(lines[0]);
    std::string_view rest = input.substr(pos);
    // Look one byte past the cap: a line of exactly `cap` bytes still has its `\n` there.
    std::size_t window = rest.size() < cap + 1 ? rest.size() : cap + 1;
    const void* nl = window == 0 ? nullptr : std::memchr(rest.data(), '\n', window);
    if (nl == nullptr) {
      out.status = rest.size() > cap ? ParseStatus::kOversize : ParseStatus::kNeedMore;
      return out;
    }
    std::size_t len = static_cast<const char*>(nl) - rest.data();
    lines[i] = StripCr(rest.substr(0, len));
    pos += len + 1;
  }
  out.status = ParseStatus::kRequest;
  out.consumed = pos;
  out.request = RawRequest{lines[0], lines[1], lines[2]};
  return out;
}

}  // namespace dflockd::native
