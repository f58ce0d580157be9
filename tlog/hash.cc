#include "tlog/hash.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <memory>

namespace budstikke::tlog {
namespace {

// One fetched SHA-256 implementation per process and one digest context per
// thread: OpenSSL 3's one-shot helpers fetch the algorithm on every call,
// which dominates the cost of hashing 65 bytes.
const EVP_MD* Sha256() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

EVP_MD_CTX* ThreadCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) std::abort();
  return ctx.get();
}

// SHA-256(prefix || a || b). Aborts on OpenSSL failure, which only happens on
// allocation failure for a fetched digest.
Hash Digest(const uint8_t* prefix, size_t prefix_len, const void* a, size_t a_len, const void* b,
            size_t b_len) {
  EVP_MD_CTX* ctx = ThreadCtx();
  Hash out;
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx, Sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, prefix, prefix_len) != 1 ||
      (a_len > 0 && EVP_DigestUpdate(ctx, a, a_len) != 1) ||
      (b_len > 0 && EVP_DigestUpdate(ctx, b, b_len) != 1) ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kHashSize) {
    std::abort();
  }
  return out;
}

}  // namespace

Hash LeafHash(std::string_view data) {
  static constexpr uint8_t kPrefix = 0x00;
  return Digest(&kPrefix, 1, data.data(), data.size(), nullptr, 0);
}

Hash NodeHash(const Hash& left, const Hash& right) {
  static constexpr uint8_t kPrefix = 0x01;
  return Digest(&kPrefix, 1, left.data(), left.size(), right.data(), right.size());
}

const Hash& EmptyHash() {
  static const Hash empty = Digest(nullptr, 0, nullptr, 0, nullptr, 0);
  return empty;
}

std::string HashToHex(const Hash& h) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * h.size());
  for (uint8_t b : h) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace budstikke::tlog
