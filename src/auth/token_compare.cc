#include "auth/token_compare.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

namespace dflockd::auth {
namespace {

bool Digest(std::string_view s, unsigned char (&out)[EVP_MAX_MD_SIZE]) {
  unsigned int len = 0;
  return EVP_Digest(s.data(), s.size(), out, &len, EVP_sha256(), nullptr) == 1 && len == 32;
}

}  // namespace

bool TokenMatches(std::string_view presented, std::string_view expected) {
  unsigned char a[EVP_MAX_MD_SIZE];
  unsigned char b[EVP_MAX_MD_SIZE];
  if (!Digest(presented, a) || !Digest(expected, b)) return false;
  return CRYPTO_memcmp(a, b, 32) == 0;
}

}  // namespace dflockd::auth
