// SecretBytes: owner of raw key material.
//
// The bytes are reachable only through secret_bytes_for_crypto(), a name that
// is easy to grep for in review; they are wiped with OPENSSL_cleanse when the
// object is destroyed or assigned over. Move-only: a copy must be asked for
// explicitly with Clone().
//
// Thread safety: const methods may be called concurrently.
#ifndef BUDSTIKKE_STORAGE_SECRET_BYTES_H_
#define BUDSTIKKE_STORAGE_SECRET_BYTES_H_

#include <cstddef>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"

namespace budstikke::storage {

class SecretBytes {
 public:
  SecretBytes() = default;
  // Copies `bytes`; the caller remains responsible for wiping its own copy.
  explicit SecretBytes(std::string_view bytes);
  // `size` bytes from OpenSSL's CSPRNG (RAND_bytes). INTERNAL if it fails.
  static absl::StatusOr<SecretBytes> Random(size_t size);

  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes Clone() const { return SecretBytes(secret_bytes_for_crypto()); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The one accessor for the raw bytes. Pass the result to a crypto primitive;
  // never log, print or persist it.
  std::string_view secret_bytes_for_crypto() const {
    return std::string_view(reinterpret_cast<const char*>(data_.get()), size_);
  }

 private:
  void Wipe();
  std::unique_ptr<unsigned char[]> data_;
  size_t size_ = 0;
};

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_SECRET_BYTES_H_
