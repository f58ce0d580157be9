// Authenticated encryption with associated data (AEAD), after Tink's
// tink/aead.h, and its AES-256-GCM implementation over OpenSSL EVP.
//
// Ciphertext format of AesGcmAead (the output of Encrypt):
//   nonce (12 bytes) || ciphertext (len(plaintext) bytes) || tag (16 bytes)
//
// Nonces follow the deterministic construction of NIST SP 800-38D §8.2.1:
// a 4-byte fixed field drawn from RAND_bytes when the instance is created, and
// a 64-bit invocation counter (threads reserve blocks of 4096 values from an
// atomic, so no RAND_bytes and no shared cache line per value). The counter
// also starts at a random value, so two instances of the same key (e.g. two
// processes, or a restart) repeat a nonce only if their random prefixes
// collide AND their reserved counter ranges overlap; for k instances
// reserving n counter values each that probability is about k^2 * n / 2^97.
// An instance refuses (RESOURCE_EXHAUSTED) once 2^48 counter values are
// reserved, far above anything a Budstikke key version is used for; rotate
// keys long before. An instance created before fork() refuses to encrypt in
// the child (FAILED_PRECONDITION): the child would repeat the parent's nonces.
//
// Errors: Decrypt returns DATA_LOSS when the ciphertext, the associated data
// or the key does not match (never wrong plaintext); INTERNAL on an OpenSSL
// failure. Thread safety: Encrypt and Decrypt may be called concurrently.
#ifndef BUDSTIKKE_STORAGE_AEAD_H_
#define BUDSTIKKE_STORAGE_AEAD_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/secret_bytes.h"

namespace budstikke::storage {

class Aead {
 public:
  virtual ~Aead() = default;
  virtual absl::StatusOr<std::string> Encrypt(std::string_view plaintext,
                                              std::string_view associated_data) const = 0;
  virtual absl::StatusOr<std::string> Decrypt(std::string_view ciphertext,
                                              std::string_view associated_data) const = 0;
};

class AesGcmAead final : public Aead {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr size_t kOverhead = kNonceSize + kTagSize;

  // INVALID_ARGUMENT unless the key is exactly 32 bytes.
  static absl::StatusOr<std::unique_ptr<AesGcmAead>> Create(const SecretBytes& key);
  ~AesGcmAead() override;

  absl::StatusOr<std::string> Encrypt(std::string_view plaintext,
                                      std::string_view associated_data) const override;
  absl::StatusOr<std::string> Decrypt(std::string_view ciphertext,
                                      std::string_view associated_data) const override;

  // As Encrypt, appending the ciphertext to *out (no extra allocation). The
  // associated data is associated_data || associated_data_2 (two parts, to
  // avoid a concatenation); neither may point into *out.
  absl::Status EncryptAppend(std::string_view plaintext, std::string_view associated_data,
                             std::string* out, std::string_view associated_data_2 = {}) const;
  // As Decrypt, writing the plaintext into *plaintext (resized), which may be a
  // buffer that is wiped by the caller. Associated data in two parts as above.
  absl::Status DecryptInto(std::string_view ciphertext, std::string_view associated_data,
                           std::string* plaintext, std::string_view associated_data_2 = {}) const;

 private:
  class CtxPool;
  static constexpr uint64_t kNonceBlock = 4096;
  AesGcmAead(SecretBytes key, uint32_t nonce_prefix, uint64_t counter_start);
  static uint64_t NextInstanceId();
  // The next unused nonce counter value; false once the nonce space is used up.
  bool NextNonce(uint64_t* n) const;

  SecretBytes key_;
  const uint32_t nonce_prefix_;
  const uint64_t counter_start_;
  mutable std::atomic<uint64_t> counter_;  // next unreserved nonce block
  const uint64_t instance_id_;
  const uint64_t fork_generation_;
  std::unique_ptr<CtxPool> encrypt_pool_;
  std::unique_ptr<CtxPool> decrypt_pool_;
};

// One-shot AES-256-GCM with a caller-chosen key and nonce (version-1 envelope
// content keys), same ciphertext format as AesGcmAead. Uses a per-thread EVP
// context.
namespace aead_internal {
// Appends nonce || ciphertext || tag to *out. The caller guarantees that
// (key, nonce) is never reused. The associated data is associated_data ||
// associated_data_2 (two parts, to avoid a concatenation).
absl::Status SealWithKey(std::string_view key, std::string_view nonce, std::string_view plaintext,
                         std::string_view associated_data, std::string* out,
                         std::string_view associated_data_2 = {});
// DATA_LOSS if authentication fails.
absl::Status OpenWithKey(std::string_view key, std::string_view ciphertext,
                         std::string_view associated_data, std::string* plaintext,
                         std::string_view associated_data_2 = {});
}  // namespace aead_internal

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_AEAD_H_
