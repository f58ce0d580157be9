#include "storage/secret_bytes.h"

#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "openssl/crypto.h"
#include "openssl/rand.h"

namespace budstikke::storage {

SecretBytes::SecretBytes(std::string_view bytes)
    : data_(new unsigned char[bytes.empty() ? 1 : bytes.size()]), size_(bytes.size()) {
  if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
}

absl::StatusOr<SecretBytes> SecretBytes::Random(size_t size) {
  SecretBytes out;
  out.data_.reset(new unsigned char[size == 0 ? 1 : size]);
  out.size_ = size;
  if (size > 0 && RAND_bytes(out.data_.get(), static_cast<int>(size)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return out;
}

SecretBytes::~SecretBytes() { Wipe(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(std::move(other.data_)), size_(std::exchange(other.size_, 0)) {}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = std::move(other.data_);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

void SecretBytes::Wipe() {
  if (data_ && size_ > 0) OPENSSL_cleanse(data_.get(), size_);
  data_.reset();
  size_ = 0;
}

}  // namespace budstikke::storage
