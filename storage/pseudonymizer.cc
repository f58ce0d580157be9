#include "storage/pseudonymizer.h"

#include "absl/status/status.h"
#include "openssl/crypto.h"
#include "openssl/evp.h"
#include "openssl/hmac.h"

namespace budstikke::storage {

absl::StatusOr<std::unique_ptr<Pseudonymizer>> Pseudonymizer::Create(const Keyring& keyring) {
  return Create(keyring.pseudonym_secret());
}

absl::StatusOr<std::unique_ptr<Pseudonymizer>> Pseudonymizer::Create(const SecretBytes& secret) {
  if (secret.size() < 32) {
    return absl::InvalidArgumentError("pseudonym secret must be at least 32 bytes");
  }
  return std::unique_ptr<Pseudonymizer>(new Pseudonymizer(secret.Clone()));
}

absl::StatusOr<std::string> Pseudonymizer::Pseudonymize(std::string_view national_id) const {
  std::string digits;
  digits.reserve(national_id.size());
  for (char c : national_id) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  if (digits.empty()) {
    return absl::InvalidArgumentError("national id has no digits");
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  std::string_view key = secret_.secret_bytes_for_crypto();
  const unsigned char* ok =
      HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(digits.data()), digits.size(), mac, &mac_len);
  OPENSSL_cleanse(digits.data(), digits.size());
  if (ok == nullptr || mac_len != 32) return absl::InternalError("HMAC-SHA256 failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(64, '0');
  for (unsigned int i = 0; i < 32; ++i) {
    out[2 * i] = kHex[mac[i] >> 4];
    out[2 * i + 1] = kHex[mac[i] & 0xf];
  }
  return out;
}

}  // namespace budstikke::storage
