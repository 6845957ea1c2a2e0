#include "core/token_source.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace dflockd::core {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void PutHex(std::uint64_t v, char* out) {
  for (int i = 15; i >= 0; --i) {
    out[i] = kHex[v & 0xf];
    v >>= 4;
  }
}

/// Lowercase hex digit values; 0xff for every other byte. A table rather than range
/// checks: every release and renew parses a token (32 digits) on the hot path.
constexpr std::array<std::uint8_t, 256> kHexValue = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(0xff);
  for (int i = 0; i < 16; ++i) t[static_cast<unsigned char>(kHex[i])] = static_cast<std::uint8_t>(i);
  return t;
}();

std::optional<std::uint64_t> GetHex(std::string_view s) {
  std::uint64_t v = 0;
  std::uint8_t invalid = 0;
  for (char c : s) {
    const std::uint8_t d = kHexValue[static_cast<unsigned char>(c)];
    invalid |= d;  // only 0xff has bit 7 set
    v = (v << 4) | (d & 0xf);
  }
  if (invalid & 0x80) return std::nullopt;
  return v;
}

}  // namespace

std::string FormatToken(Token token) {
  std::string s(32, '0');
  PutHex(token.fence, s.data());
  PutHex(token.nonce, s.data() + 16);
  return s;
}

std::optional<Token> ParseToken(std::string_view text) {
  if (text.size() != 32) return std::nullopt;
  auto fence = GetHex(text.substr(0, 16));
  auto nonce = GetHex(text.substr(16));
  if (!fence || !nonce) return std::nullopt;
  return Token{*fence, *nonce};
}

TokenSource::TokenSource(std::uint64_t first_fence, FenceStore* store)
    : next_fence_(first_fence == 0 ? 1 : first_fence), store_(store) {}

void TokenSource::Rebase(std::uint64_t floor, std::uint64_t ceiling) {
  next_fence_ = std::max(next_fence_, floor);
  ceiling_ = ceiling;
}

bool TokenSource::Ready() {
  if (next_fence_ >= ceiling_) return false;
  if (store_ == nullptr || next_fence_ < reserved_until_) return true;
  // Persist before issuing: a crash right after must not allow a reissue.
  if (next_fence_ > std::numeric_limits<std::uint64_t>::max() - kReserveBlock) return false;
  std::uint64_t limit = next_fence_ + kReserveBlock;
  if (!store_->Reserve(limit)) return false;
  reserved_until_ = limit;
  return true;
}

Token TokenSource::Next() {
  Token t{next_fence_++, RandomU64()};
  return t;
}

std::uint64_t TokenSource::RandomU64() {
  if (random_left_ == 0) {
    // getrandom() draws from the kernel CSPRNG; refilling in batches keeps the
    // syscall off most grants.
    auto* bytes = reinterpret_cast<char*>(random_pool_.data());
    std::size_t want = sizeof(random_pool_);
    std::size_t got = 0;
    while (got < want) {
      ssize_t n = getrandom(bytes + got, want - got, 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        std::abort();  // no secure randomness: refusing to issue guessable tokens
      }
      got += static_cast<std::size_t>(n);
    }
    random_left_ = random_pool_.size();
  }
  std::uint64_t v = random_pool_[--random_left_];
  random_pool_[random_left_] = 0;
  return v;
}

}  // namespace dflockd::core
