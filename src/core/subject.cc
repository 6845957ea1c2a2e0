#include "core/subject.h"

namespace dflockd::core {

bool IsValidKey(std::string_view key) {
  if (key.empty() || key.size() > 256) return false;
  for (char c : key) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return false;
  }
  return true;
}

bool IsValidPattern(std::string_view pattern) {
  if (!IsValidKey(pattern)) return false;
  TokenCursor cursor(pattern);
  std::string_view token;
  bool after_tail = false;
  while (cursor.Next(token)) {
    if (token.empty() || after_tail) return false;
    if (token == ">") {
      after_tail = true;
    } else if (token != "*" && token.find_first_of("*>") != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool IsValidChannel(std::string_view channel) {
  if (!IsValidKey(channel) || channel.find_first_of("*>") != std::string_view::npos) {
    return false;
  }
  TokenCursor cursor(channel);
  std::string_view token;
  while (cursor.Next(token)) {
    if (token.empty()) return false;
  }
  return true;
}

bool SubjectMatches(std::string_view pattern, std::string_view channel) {
  TokenCursor p(pattern);
  TokenCursor c(channel);
  std::string_view pt;
  std::string_view ct;
  while (p.Next(pt)) {
    if (!c.Next(ct)) return false;
    if (pt == ">") return true;  // one or more trailing tokens: we have at least ct
    if (pt != "*" && pt != ct) return false;
  }
  return !c.Next(ct);
}

}  // namespace dflockd::core
