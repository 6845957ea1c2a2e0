#include "core/token_source.h"

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <limits>

namespace dflockd::core {

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
