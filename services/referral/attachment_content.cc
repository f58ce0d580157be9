#include "services/referral/attachment_content.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "storage/random.h"
#include "storage/secret_bytes.h"
#include "storage/status_macros.h"

namespace budstikke::referral::attachment_content {
namespace {

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::string ChunkAad(absl::string_view cf, absl::string_view chunk_key) {
  return absl::StrCat("budstikke attachment chunk v1", std::string(1, '\0'), cf,
                      std::string(1, '\0'), chunk_key);
}

absl::StatusOr<std::unique_ptr<storage::AesGcmAead>> AeadOf(std::string key) {
  storage::SecretBytes secret(key);
  std::fill(key.begin(), key.end(), '\0');
  return storage::AesGcmAead::Create(secret);
}

}  // namespace

std::string ContentKeyRecord(absl::string_view attachment_id) {
  return absl::StrCat("c/", attachment_id);
}

absl::StatusOr<NewContentKey> Create(const storage::Envelope& envelope, absl::string_view cf,
                                     absl::string_view id,
                                     const std::vector<std::string>& readers) {
  std::string key(storage::AesGcmAead::kKeySize, '\0');
  BUDSTIKKE_RETURN_IF_ERROR(
      storage::RandomBytes(reinterpret_cast<unsigned char*>(key.data()), key.size()));
  NewContentKey out;
  auto sealed = envelope.Seal(Sv(cf), ContentKeyRecord(id), key, readers);
  if (!sealed.ok()) {
    std::fill(key.begin(), key.end(), '\0');
    return sealed.status();
  }
  out.sealed = *std::move(sealed);
  BUDSTIKKE_ASSIGN_OR_RETURN(out.aead, AeadOf(std::move(key)));
  return out;
}

absl::StatusOr<std::unique_ptr<storage::AesGcmAead>> Open(const storage::Store& store,
                                                          const storage::Envelope& envelope,
                                                          absl::string_view cf,
                                                          absl::string_view id,
                                                          absl::string_view agency) {
  const std::string record = ContentKeyRecord(id);
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed, store.Get(Sv(cf), record));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string key, envelope.Open(Sv(cf), record, sealed, Sv(agency)));
  if (key.size() != storage::AesGcmAead::kKeySize) {
    return absl::DataLossError("attachment content key is malformed");
  }
  return AeadOf(std::move(key));
}

absl::StatusOr<std::string> SealChunk(const storage::AesGcmAead& key, absl::string_view cf,
                                      absl::string_view chunk_key, absl::string_view plain) {
  std::string out(1, kChunkFormat);
  BUDSTIKKE_RETURN_IF_ERROR(key.EncryptAppend(Sv(plain), ChunkAad(cf, chunk_key), &out));
  return out;
}

absl::StatusOr<std::string> OpenChunk(const storage::AesGcmAead* key,
                                      const storage::Envelope& envelope, absl::string_view cf,
                                      absl::string_view chunk_key, absl::string_view value,
                                      absl::string_view agency) {
  if (value.empty() || value[0] != kChunkFormat) {
    return envelope.Open(Sv(cf), Sv(chunk_key), Sv(value), Sv(agency));
  }
  if (key == nullptr) return absl::DataLossError("attachment chunk has no content key");
  std::string plain;
  absl::Status s = key->DecryptInto(Sv(value.substr(1)), ChunkAad(cf, chunk_key), &plain);
  if (!s.ok()) return absl::DataLossError("attachment chunk does not authenticate");
  return plain;
}

}  // namespace budstikke::referral::attachment_content
