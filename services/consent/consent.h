// ConsentRegistry: recorded consents to disclose a named child's information
// (domain logic, no gRPC). See consent.proto for the API contract and
// docs/ARCHITECTURE.md "Domain rules" / "Settled details".
//
// Storage, column family "consent" (keys hold no personal data):
//   c/<id>                               framed(subject pseudonym, envelope of
//                                        v1::Consent sealed for the recording agency)
//   f/<id>                               the facts index: the same, without the
//                                        national id and scope (GetConsentFacts,
//                                        so referral reads never decrypt the id)
//   l/<agency>/<inverted micros>/<id>    list index of the recording agency
//   s/<agency>/<pseudonym>/<inv>/<id>    list index by subject
//   q/<agency>/<request id>              id of the consent a Record created
//   m/recipients-are-readers             marks that consents recorded before
//                                        named recipients were readers have
//                                        been re-sealed (once, at Create)
// Records are sealed for the recording agency and every recipient named as an
// agency (the first reader is the recording agency). A change, its audit
// events and its inbox events commit in one WriteBatch.
//
// Who may do what (the authorization table has already admitted a
// professional role): Record by anyone, for the caller's agency; Get and
// Revoke by the recording agency, the named recipient agency, or an agency
// that received a referral under the consent (ConsentObserver); List the
// caller's agency's own consents. Anything else is NOT_FOUND, the same as an
// unknown id, decided before anything is decrypted (from the readers in the
// envelope's header and the observer), and recorded as a DENIED event of the
// action with rule consent.not_visible. The national id is returned only to the recording agency
// (Record and Get); List never returns it.
//
// Thread-safe: mutations are serialized by a mutex; reads are lock-free.
#ifndef BUDSTIKKE_SERVICES_CONSENT_CONSENT_H_
#define BUDSTIKKE_SERVICES_CONSENT_CONSENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "budstikke/v1/consent.pb.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/consent_checker.h"
#include "services/common/identity.h"
#include "services/common/inbox_writer.h"
#include "services/common/policy/consent.h"
#include "services/common/policy/dates.h"
#include "services/common/policy/rules.h"
#include "services/common/sealed_records.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"
#include "storage/store.h"

namespace budstikke::consent {

inline constexpr char kColumnFamily[] = "consent";

struct ConsentOptions {
  // Includes refuse_synthetic_ids (national_id.synthetic_refused).
  policy::PolicyRules rules;
  // Days are Norwegian calendar days.
  absl::TimeZone zone = policy::NorwegianTimeZone();
};

class ConsentRegistry final : public common::ConsentChecker {
 public:
  // Dependencies are not owned and must outlive the registry. `inbox` may be
  // null (no inbox events).
  static absl::StatusOr<std::unique_ptr<ConsentRegistry>> Create(
      storage::Store* store, storage::Keyring* keyring, common::AuditOutbox* audit,
      common::InboxWriter* inbox, const common::AgencyLookup* directory, const common::Clock* clock,
      ConsentOptions options = {});

  // The referral service, told about revocations. Call before serving.
  void SetObserver(common::ConsentObserver* observer) { observer_ = observer; }

  // INVALID_ARGUMENT naming the field; FAILED_PRECONDITION consent.giver.*
  // and national_id.synthetic_refused, all violated rules at once.
  // Idempotent on (caller agency, request_id).
  absl::StatusOr<v1::Consent> Record(const common::Caller& caller,
                                     const v1::RecordConsentRequest& request);
  // Revoking a REVOKED consent returns it unchanged (audited as a read) and
  // tells the observer again (idempotent), so a retry completes a fan-out
  // that failed part-way.
  absl::StatusOr<v1::Consent> Revoke(const common::Caller& caller,
                                     const v1::RevokeConsentRequest& request);
  absl::StatusOr<v1::Consent> Get(const common::Caller& caller, absl::string_view id);
  absl::StatusOr<v1::ListConsentsResponse> List(const common::Caller& caller,
                                                const v1::ListConsentsRequest& request);

  absl::StatusOr<common::ConsentFacts> GetConsentFacts(absl::string_view consent_id) const override;

 private:
  struct Stored {
    std::string pseudonym;
    v1::Consent consent;  // as stored (status ACTIVE or REVOKED)
  };

  ConsentRegistry(common::RecordDeps deps, ConsentOptions options)
      : deps_(std::move(deps)), options_(std::move(options)) {}

  absl::StatusOr<Stored> Load(absl::string_view id) const;
  // The facts index entry of consent `id` (national id and scope cleared);
  // the full record for a consent recorded before the index existed.
  absl::StatusOr<Stored> LoadFacts(absl::string_view id) const;
  // The record (or with `facts_only` its facts index entry) of consent `id`.
  absl::StatusOr<Stored> Read(absl::string_view id, bool facts_only) const;
  // Puts the record and its facts index entry into `batch`.
  absl::Status Put(const Stored& stored, storage::WriteBatch* batch) const;
  // The request's recipients (`recipients`, or `recipient` alone), checked:
  // each an agency in the directory or a type, no duplicates, at most
  // kMaxRecipients; INVALID_ARGUMENT naming the field otherwise.
  absl::StatusOr<std::vector<v1::ConsentRecipient>> ValidateRecipients(
      const v1::RecordConsentRequest& req) const;
  // The stored value under `key` of consent `id`; NOT_FOUND for an unknown
  // or malformed id.
  absl::StatusOr<std::string> Fetch(absl::string_view id, const std::string& key) const;
  // Opens `value` (stored under `key`) with the key of `reader` (empty: the
  // recording agency's).
  absl::StatusOr<Stored> Decode(const std::string& key, absl::string_view value,
                                absl::string_view reader) const;
  // Consent `id` for Get/Revoke (`action`) by the caller: NOT_FOUND before
  // any decryption unless the caller's agency may see it, the probe recorded
  // (DENIED, consent.not_visible).
  absl::StatusOr<Stored> LoadVisible(const common::Caller& caller, absl::string_view id,
                                     const std::string& action);
  // Consents recorded when only the recording agency was a reader: re-sealed
  // for their named recipients too, once (the m/ marker).
  absl::Status SealForNamedRecipients();
  // Status with EXPIRED computed for today; the national id cleared unless
  // `with_subject`.
  v1::Consent Present(const Stored& stored, bool with_subject) const;
  static common::ConsentFacts FactsOf(const Stored& stored);
  // Records the refusal of `action` (DENIED, every rule id) and returns it.
  absl::Status Refuse(const common::Caller& caller, const std::string& action,
                      const std::string& subject, const std::string& request_id,
                      const std::vector<common::Violation>& violations);
  // Records "consent.read" for `stored`; UNAVAILABLE if it cannot.
  absl::Status RecordRead(const common::Caller& caller, const Stored& stored,
                          const std::string& request_id);
  policy::CivilDate Today() const;

  const common::RecordDeps deps_;
  const ConsentOptions options_;
  common::ConsentObserver* observer_ = nullptr;
  absl::Mutex mu_;  // serializes Record and Revoke
};

// Every recipient of `consent` (`recipients`, or `recipient` for a consent
// recorded before several were possible).
std::vector<v1::ConsentRecipient> RecipientsOf(const v1::Consent& consent);
// RecipientRef <-> ConsentRecipient (the same choice, two spellings).
v1::ConsentRecipient FromRef(const v1::RecipientRef& ref);
v1::RecipientRef ToRef(const v1::ConsentRecipient& recipient);

inline constexpr size_t kMaxRecipients = 10;

// The audit rule of a probe of a consent the caller's agency may not see.
inline constexpr char kRuleNotVisible[] = "consent.not_visible";

}  // namespace budstikke::consent

#endif  // BUDSTIKKE_SERVICES_CONSENT_CONSENT_H_
