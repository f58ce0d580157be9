// Consent rules: who may give consent for a child of a given age, whether a
// national id may be used at all, and THE one decision "is this consent
// usable for this disclosure today" (ConsentUsable). Send, Get, List and
// Download of referrals and the consent service's own status all come here;
// nothing else checks revoked or expired.
//
// Thread safety: pure functions over values.
#ifndef BUDSTIKKE_SERVICES_COMMON_POLICY_CONSENT_H_
#define BUDSTIKKE_SERVICES_COMMON_POLICY_CONSENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "budstikke/v1/consent.pb.h"
#include "services/common/errors.h"
#include "services/common/policy/dates.h"
#include "services/common/policy/rules.h"

namespace budstikke::policy {

// The facts of one consent that policy decisions need. No national id: the
// subject is its pseudonym (storage::Pseudonymizer), compared by equality.
struct ConsentFacts {
  std::string id;
  std::string recording_agency;
  std::string subject_pseudonym;
  v1::ConsentGiver giver = v1::CONSENT_GIVER_UNSPECIFIED;
  // The first recipient, and every recipient (the first included). A
  // consent with `recipients` empty has `recipient` only.
  v1::ConsentRecipient recipient;
  std::vector<v1::ConsentRecipient> recipients;
  std::string purpose;
  // Last day (inclusive, Norwegian time) the consent holds.
  v1::Date valid_until;
  bool revoked = false;
};

// What a disclosure under a consent is. Fields left empty are not checked: a
// read of a referral that was checked when it was sent leaves them empty, and
// only the lifecycle rules (revoked, expired) apply.
struct Disclosure {
  std::string recipient_agency;  // empty: not checked
  v1::AgencyType recipient_type = v1::AGENCY_TYPE_UNSPECIFIED;
  std::string purpose;             // empty: the consent's own
  std::string subject_pseudonym;   // empty: not checked
  std::optional<int> subject_age;  // unset: giver rule not checked
  // The recipient acknowledged the referral and this read gives it nothing
  // new: it keeps what it received, so no consent is needed (DESIGN).
  bool already_received = false;
};

// True when one of the consent's recipients names `agency`, or its type
// `type` (not UNSPECIFIED).
bool ConsentCovers(const ConsentFacts& consent, absl::string_view agency, v1::AgencyType type);

// Giver rule for a consent used (or recorded) for a child of `age`.
std::vector<common::Violation> GiverViolations(const PolicyRules& rules, v1::ConsentGiver giver,
                                               int age);

// National-id rule for the subject of a consent or referral.
std::vector<common::Violation> NationalIdViolations(const PolicyRules& rules, bool synthetic);

// The status a consent has on `today`: REVOKED, EXPIRED (valid_until has
// passed) or ACTIVE.
v1::ConsentStatus ConsentStatusOn(const ConsentFacts& consent, const CivilDate& today);

// Every rule that keeps `consent` from covering `disclosure` on `today`, in a
// stable order (revoked, expired, recipient, purpose, subject, giver); empty
// means usable.
std::vector<common::Violation> ConsentUsable(const PolicyRules& rules, const ConsentFacts& consent,
                                             const Disclosure& disclosure, const CivilDate& today);

// A purpose as compared: ASCII whitespace (and U+00A0) trimmed and collapsed
// to one space; A-Z and the Latin-1 capitals (ÆØÅ, É, Ö, ...) lowercased.
// Other bytes are kept as they are.
std::string NormalizePurpose(absl::string_view purpose);

// The rule ids of `violations`, in order.
std::vector<std::string> RuleIds(const std::vector<common::Violation>& violations);

}  // namespace budstikke::policy

#endif  // BUDSTIKKE_SERVICES_COMMON_POLICY_CONSENT_H_
