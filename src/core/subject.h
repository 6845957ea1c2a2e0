// NATS-style subjects: `.`-separated tokens; in patterns `*` matches exactly one
// token and `>` (last token only) matches one or more trailing tokens.
#pragma once

#include <string_view>

namespace dflockd::core {

/// True if `key` is a valid key: non-empty, at most 256 bytes, no space/tab/CR/LF.
bool IsValidKey(std::string_view key);
/// A valid key whose tokens are non-empty and whose wildcards are whole tokens,
/// with `>` only last.
bool IsValidPattern(std::string_view pattern);
/// A valid key with non-empty tokens and no `*` or `>` characters.
bool IsValidChannel(std::string_view channel);
/// Does `pattern` (valid) match `channel` (valid)?
bool SubjectMatches(std::string_view pattern, std::string_view channel);

/// Iterates over the `.`-separated tokens of a subject without allocating.
class TokenCursor {
 public:
  explicit TokenCursor(std::string_view subject) : rest_(subject), done_(false) {}
  /// Stores the next token in `out`; false when there are no more.
  bool Next(std::string_view& out) {
    if (done_) return false;
    auto dot = rest_.find('.');
    if (dot == std::string_view::npos) {
      out = rest_;
      done_ = true;
    } else {
      out = rest_.substr(0, dot);
      rest_.remove_prefix(dot + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
  bool done_;
};

}  // namespace dflockd::core
