// Subjects and patterns, differentially: the validators and SubjectMatches against
// a plain reference written from the rules (split on '.', `*` = one token, `>` = one
// or more trailing tokens, last only).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/subject.h"

namespace {

std::vector<std::string> Split(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    out.emplace_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return out;
    start = dot + 1;
  }
}

bool KeyOk(std::string_view s) {
  return !s.empty() && s.size() <= 256 && s.find_first_of(" \t\r\n") == std::string_view::npos;
}

bool RefPattern(std::string_view p) {
  if (!KeyOk(p)) return false;
  auto t = Split(p);
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].empty()) return false;
    if (t[i] == ">" && i + 1 != t.size()) return false;
    if (t[i] != "*" && t[i] != ">" && t[i].find_first_of("*>") != std::string::npos) return false;
  }
  return true;
}

bool RefChannel(std::string_view c) {
  if (!KeyOk(c) || c.find_first_of("*>") != std::string_view::npos) return false;
  for (const auto& t : Split(c)) {
    if (t.empty()) return false;
  }
  return true;
}

bool RefMatch(std::string_view pattern, std::string_view channel) {
  auto p = Split(pattern), c = Split(channel);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] == ">") return c.size() > i;
    if (i >= c.size()) return false;
    if (p[i] != "*" && p[i] != c[i]) return false;
  }
  return p.size() == c.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dflockd::core;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t nl = input.find('\n');
  std::string_view pattern = input.substr(0, nl);
  std::string_view channel = nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  if (IsValidKey(pattern) != KeyOk(pattern)) __builtin_trap();
  if (IsValidPattern(pattern) != RefPattern(pattern)) __builtin_trap();
  if (IsValidChannel(channel) != RefChannel(channel)) __builtin_trap();
  if (IsValidChannel(channel) && !IsValidPattern(channel)) __builtin_trap();  // channels are patterns
  if (IsValidPattern(pattern) && IsValidChannel(channel)) {
    if (SubjectMatches(pattern, channel) != RefMatch(pattern, channel)) __builtin_trap();
    if (!SubjectMatches(channel, channel)) __builtin_trap();
  }
  return 0;
}
