// Pseudonymizer: a stable, keyed pseudonym for a national id, used as the
// subject in indexes and audit events so that no national id is stored.
//
//   pseudonym = lowercase hex(HMAC-SHA256(pseudonym secret, digits of the id))
//
// Normalization keeps only the ASCII digits, so "010180 12345" and
// "01018012345" give the same 64-character pseudonym. The caller passes an
// ALREADY-VALIDATED national id (checksum, synthetic-id policy): this class
// does not validate it. INVALID_ARGUMENT only if the id has no digit at all.
//
// Thread safety: Pseudonymize may be called concurrently.
#ifndef BUDSTIKKE_STORAGE_PSEUDONYMIZER_H_
#define BUDSTIKKE_STORAGE_PSEUDONYMIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "openssl/types.h"
#include "storage/keyring.h"
#include "storage/secret_bytes.h"

namespace budstikke::storage {

class Pseudonymizer {
 public:
  // Uses the Keyring's pseudonym secret (copied; the Keyring may go away).
  static absl::StatusOr<std::unique_ptr<Pseudonymizer>> Create(const Keyring& keyring);
  // With an explicit secret (tests). INVALID_ARGUMENT if it is shorter than 32 bytes.
  static absl::StatusOr<std::unique_ptr<Pseudonymizer>> Create(const SecretBytes& secret);

  // Thread-safe.
  absl::StatusOr<std::string> Pseudonymize(std::string_view national_id) const;

 private:
  struct MacCtxFree {
    void operator()(EVP_MAC_CTX* ctx) const;
  };
  using MacCtx = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;
  explicit Pseudonymizer(MacCtx keyed) : keyed_(std::move(keyed)) {}
  // HMAC-SHA256 keyed with the secret and never updated: each call works on a
  // copy, which saves the digest fetch and key setup of a one-shot HMAC()
  // (1.22 -> 0.56 us per call). Freeing it cleanses the key.
  const MacCtx keyed_;
};

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_PSEUDONYMIZER_H_
