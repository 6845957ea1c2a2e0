// REST and WebSocket input: the router (method + target, percent-decoding) and the
// JSON codec for every route, and WebSocket messages. Commands that come out are
// checked by the engine's own validation; replies are serialised back to JSON,
// which must parse.
#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/validation.h"
#include "http/json_codec.h"
#include "http/router.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dflockd;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // "<method> <target>\n<body>"
  std::string_view line = input.substr(0, input.find('\n'));
  std::string_view body = line.size() < input.size() ? input.substr(line.size() + 1) : "";
  std::string_view method = line.substr(0, line.find(' '));
  std::string_view target = method.size() < line.size() ? line.substr(method.size() + 1) : "";
  http::Route route = http::MatchRoute(method, target);
  auto command = http::CommandFromBody(route, body);
  if (command.ok()) (void)core::IsValid(command.value());
  http::WsRequest ws = http::ParseWsRequest(input);
  if (ws.command.ok()) (void)core::IsValid(ws.command.value());
  std::string decoded;
  (void)http::PercentDecode(target, decoded);
  // An error answer for whatever id came in must be valid JSON.
  std::string error = http::WsError(ws.id, http::ErrorFor(core::ErrorCode::kInvalid));
  boost::system::error_code ec;
  boost::json::parse(error, ec);
  if (ec) __builtin_trap();
  std::string signal = http::WsSignal(target, body);
  boost::json::parse(signal, ec);
  if (ec) __builtin_trap();
  return 0;
}
