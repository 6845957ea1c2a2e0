#include "core/token_source.h"

#include <sys/random.h>

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

std::optional<std::uint64_t> GetHex(std::string_view s) {
  std::uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    v = (v << 4) | static_cast<std::uint64_t>(d);
  }
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

bool TokenSource::Ready() {
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
