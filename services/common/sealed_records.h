// SealedRecords: the value format of records about a named child (consents,
// referrals): Frame(subject pseudonym, envelope), the envelope sealed for the
// agencies that may read it and bound to (column family, record key ‖ 0x00 ‖
// subject pseudonym): the pseudonym sits in the clear (for indexes and audit
// events without decrypting) but inside the authenticated data, so a value
// whose pseudonym was swapped opens as DATA_LOSS. Values sealed before the
// pseudonym was bound (to the record key alone) still open, and are bound
// when next written. One place for sealing, opening and pseudonymizing, so
// the services that hold such records do it the same way.
//
// Thread-safe (as storage::Envelope and storage::Pseudonymizer).
#ifndef BUDSTIKKE_SERVICES_COMMON_SEALED_RECORDS_H_
#define BUDSTIKKE_SERVICES_COMMON_SEALED_RECORDS_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/inbox_writer.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"

namespace budstikke::common {

class SealedRecords {
 public:
  // `keyring` is not owned and must outlive the object.
  static absl::StatusOr<std::unique_ptr<SealedRecords>> Create(const storage::Keyring* keyring);

  struct Opened {
    std::string pseudonym;
    std::string plaintext;
  };

  // Frame(pseudonym, envelope of `plaintext` for `readers`).
  absl::StatusOr<std::string> Seal(std::string_view cf, std::string_view key,
                                   std::string_view pseudonym, std::string_view plaintext,
                                   const std::vector<std::string>& readers) const;
  // Opens a value written by Seal for `reader`, or for the first agency it is
  // sealed for when `reader` is empty. DATA_LOSS for a malformed value or one
  // whose pseudonym, key or envelope was changed;
  // PERMISSION_DENIED when `reader` is not one of its readers;
  // FAILED_PRECONDITION when its key version was shredded.
  absl::StatusOr<Opened> Open(std::string_view cf, std::string_view key, std::string_view value,
                              std::string_view reader) const;
  // What a value written by Seal says in the clear: the subject pseudonym and
  // the agencies it is sealed for, without decrypting (a visibility check
  // before any decryption; not authenticated until Open). DATA_LOSS if
  // malformed.
  struct Clear {
    std::string pseudonym;
    std::vector<std::string> readers;
  };
  static absl::StatusOr<Clear> Peek(std::string_view value);
  // A value written by Seal with `agency`'s wrapped data key moved to its
  // current key version (storage::Envelope::Rewrap; the key rotation's
  // rewrap). Errors as Envelope::Rewrap; DATA_LOSS for a malformed frame.
  static absl::StatusOr<std::string> Rewrap(const storage::Keyring& keyring, std::string_view cf,
                                            std::string_view key, std::string_view value,
                                            std::string_view agency);
  // HMAC-SHA256 of the national id under the server's pseudonym secret.
  absl::StatusOr<std::string> Pseudonymize(std::string_view national_id_digits) const {
    return pseudonymizer_->Pseudonymize(national_id_digits);
  }
  // For values that are envelopes without a frame (e.g. attachment chunks).
  const storage::Envelope& envelope() const { return *envelope_; }

 private:
  SealedRecords(std::unique_ptr<storage::Envelope> envelope,
                std::unique_ptr<storage::Pseudonymizer> pseudonymizer)
      : envelope_(std::move(envelope)), pseudonymizer_(std::move(pseudonymizer)) {}
  const std::unique_ptr<storage::Envelope> envelope_;
  const std::unique_ptr<storage::Pseudonymizer> pseudonymizer_;
};

// What a domain class that keeps sealed records about a named child works
// with (the consent registry, the referral desk). Everything but `records` is
// not owned and must outlive the class; `inbox` may be null (no inbox events).
struct RecordDeps {
  storage::Store* store = nullptr;
  storage::Keyring* keyring = nullptr;
  std::unique_ptr<SealedRecords> records;
  AuditOutbox* audit = nullptr;
  InboxWriter* inbox = nullptr;
  const AgencyLookup* directory = nullptr;
  const Clock* clock = nullptr;

  // Commits `batch` with `events` through the inbox, or writes it alone when
  // there is no inbox.
  absl::Status Commit(storage::WriteBatch batch, std::vector<InboxDelivery> events) const {
    if (inbox != nullptr) return inbox->Commit(std::move(batch), events);
    return store->Write(std::move(batch));
  }
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_SEALED_RECORDS_H_
