#include "services/common/sealed_records.h"

#include "services/common/record_codec.h"
#include "storage/status_macros.h"

namespace budstikke::common {
namespace {

// What the envelope's authenticated data binds besides the column family:
// the record key and the subject pseudonym.
std::string BoundKey(std::string_view key, std::string_view pseudonym) {
  std::string bound(key);
  bound.push_back('\0');
  bound.append(pseudonym);
  return bound;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SealedRecords>> SealedRecords::Create(
    const storage::Keyring* keyring) {
  BUDSTIKKE_ASSIGN_OR_RETURN(auto envelope, storage::Envelope::Create(keyring));
  BUDSTIKKE_ASSIGN_OR_RETURN(auto pseudonymizer, storage::Pseudonymizer::Create(*keyring));
  return std::unique_ptr<SealedRecords>(
      new SealedRecords(std::move(envelope), std::move(pseudonymizer)));
}

absl::StatusOr<std::string> SealedRecords::Seal(std::string_view cf, std::string_view key,
                                                std::string_view pseudonym,
                                                std::string_view plaintext,
                                                const std::vector<std::string>& readers) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed,
                             envelope_->Seal(cf, BoundKey(key, pseudonym), plaintext, readers));
  return Frame(absl::string_view(pseudonym.data(), pseudonym.size()), sealed);
}

absl::StatusOr<SealedRecords::Clear> SealedRecords::Peek(std::string_view value) {
  Clear clear;
  std::string sealed;
  if (!Unframe(absl::string_view(value.data(), value.size()), &clear.pseudonym, &sealed)) {
    return absl::DataLossError("record is malformed (frame)");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(auto readers, storage::Envelope::Readers(sealed));
  for (const storage::Envelope::Reader& r : readers) clear.readers.push_back(r.agency);
  return clear;
}

absl::StatusOr<SealedRecords::Opened> SealedRecords::Open(std::string_view cf, std::string_view key,
                                                          std::string_view value,
                                                          std::string_view reader) const {
  Opened opened;
  std::string sealed;
  if (!Unframe(absl::string_view(value.data(), value.size()), &opened.pseudonym, &sealed)) {
    return absl::DataLossError("record is malformed (frame)");
  }
  std::string first_reader;
  if (reader.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(auto readers, storage::Envelope::Readers(sealed));
    if (readers.empty()) return absl::DataLossError("record is sealed for no reader");
    first_reader = readers[0].agency;
    reader = first_reader;
  }
  auto plaintext = envelope_->Open(cf, BoundKey(key, opened.pseudonym), sealed, reader);
  // Sealed before the pseudonym was bound: bound to the key alone. (A value
  // sealed with the pseudonym bound never opens this way.)
  if (absl::IsDataLoss(plaintext.status())) plaintext = envelope_->Open(cf, key, sealed, reader);
  if (!plaintext.ok()) return plaintext.status();
  opened.plaintext = *std::move(plaintext);
  return opened;
}

absl::StatusOr<std::string> SealedRecords::Rewrap(const storage::Keyring& keyring,
                                                  std::string_view cf, std::string_view key,
                                                  std::string_view value, std::string_view agency) {
  std::string pseudonym, sealed;
  if (!Unframe(absl::string_view(value.data(), value.size()), &pseudonym, &sealed)) {
    return absl::DataLossError("record is malformed (frame)");
  }
  auto rewrapped = storage::Envelope::Rewrap(keyring, cf, BoundKey(key, pseudonym), sealed, agency);
  // Sealed before the pseudonym was bound (as in Open).
  if (absl::IsDataLoss(rewrapped.status())) {
    rewrapped = storage::Envelope::Rewrap(keyring, cf, key, sealed, agency);
  }
  if (!rewrapped.ok()) return rewrapped.status();
  return Frame(pseudonym, *rewrapped);
}

}  // namespace budstikke::common
