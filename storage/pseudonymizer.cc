#include "storage/pseudonymizer.h"

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "openssl/core_names.h"
#include "openssl/crypto.h"
#include "openssl/evp.h"

namespace budstikke::storage {

absl::StatusOr<std::unique_ptr<Pseudonymizer>> Pseudonymizer::Create(const Keyring& keyring) {
  return Create(keyring.pseudonym_secret());
}

absl::StatusOr<std::unique_ptr<Pseudonymizer>> Pseudonymizer::Create(const SecretBytes& secret) {
  if (secret.size() < 32) {
    return absl::InvalidArgumentError("pseudonym secret must be at least 32 bytes");
  }
  EVP_MAC* hmac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (hmac == nullptr) return absl::InternalError("OpenSSL has no HMAC");
  MacCtx keyed(EVP_MAC_CTX_new(hmac));
  EVP_MAC_free(hmac);  // the context holds its own reference
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  const std::string_view key = secret.secret_bytes_for_crypto();
  if (keyed == nullptr ||
      EVP_MAC_init(keyed.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                   params) != 1) {
    return absl::InternalError("HMAC-SHA256 setup failed");
  }
  return std::unique_ptr<Pseudonymizer>(new Pseudonymizer(std::move(keyed)));
}

void Pseudonymizer::MacCtxFree::operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }

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
  size_t mac_len = 0;
  MacCtx ctx(EVP_MAC_CTX_dup(keyed_.get()));
  const bool ok = ctx != nullptr &&
                  EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(digits.data()),
                                 digits.size()) == 1 &&
                  EVP_MAC_final(ctx.get(), mac, &mac_len, sizeof mac) == 1;
  OPENSSL_cleanse(digits.data(), digits.size());
  if (!ok || mac_len != 32) return absl::InternalError("HMAC-SHA256 failed");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace budstikke::storage
