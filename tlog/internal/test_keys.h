// Test-only: Ed25519 PEM keys made at run time from a fixed 32-byte seed, so
// no key file is ever committed. Not linked into the library.
#ifndef BUDSTIKKE_TLOG_INTERNAL_TEST_KEYS_H_
#define BUDSTIKKE_TLOG_INTERNAL_TEST_KEYS_H_

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cstdlib>
#include <string>

namespace budstikke::tlog::tlog_internal {

// The PKCS#8 PEM text of the Ed25519 key made from `seed`, at run time (no key
// is stored in the source).
inline std::string Ed25519PemFromSeed(const std::array<uint8_t, 32>& seed) {
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size());
  BIO* bio = BIO_new(BIO_s_mem());
  if (key == nullptr || bio == nullptr ||
      PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    std::abort();
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

inline std::array<uint8_t, 32> FilledSeed(uint8_t byte) {
  std::array<uint8_t, 32> seed;
  seed.fill(byte);
  return seed;
}

}  // namespace budstikke::tlog::tlog_internal

#endif  // BUDSTIKKE_TLOG_INTERNAL_TEST_KEYS_H_
