// Referral and consent policy: the rules of DESIGN.md "Domain rules" kept as
// data (PolicyRules) so a deployment can tighten them, evaluated by pure
// functions that return EVERY violated rule at once.
//
// Rule ids (stable, machine-readable; see docs/API.md "Rule ids"):
//   referral.recipient_type, referral.legal_basis, referral.bup.sender_role,
//   referral.statutory_duty.recipient, referral.child_welfare.justification,
//   referral.ppt.parent_conversation, referral.ppt.action_log,
//   consent.revoked, consent.expired, consent.recipient_mismatch,
//   consent.purpose_mismatch, consent.subject_mismatch,
//   consent.giver.child_from_16, consent.giver.guardian_under_16,
//   national_id.synthetic_refused.
//
// Thread safety: pure functions over values.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_
#define BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "budstikke/v1/consent.pb.h"
#include "budstikke/v1/types.pb.h"
#include "services/common/consent_checker.h"
#include "services/common/errors.h"

namespace budstikke::referral {

inline constexpr char kRuleRecipientType[] = "referral.recipient_type";
inline constexpr char kRuleLegalBasis[] = "referral.legal_basis";
inline constexpr char kRuleBupSenderRole[] = "referral.bup.sender_role";
inline constexpr char kRuleStatutoryDutyRecipient[] = "referral.statutory_duty.recipient";
inline constexpr char kRuleChildWelfareJustification[] = "referral.child_welfare.justification";
inline constexpr char kRulePptParentConversation[] = "referral.ppt.parent_conversation";
inline constexpr char kRulePptActionLog[] = "referral.ppt.action_log";
inline constexpr char kRuleConsentRevoked[] = "consent.revoked";
inline constexpr char kRuleConsentExpired[] = "consent.expired";
inline constexpr char kRuleConsentRecipientMismatch[] = "consent.recipient_mismatch";
inline constexpr char kRuleConsentPurposeMismatch[] = "consent.purpose_mismatch";
inline constexpr char kRuleConsentSubjectMismatch[] = "consent.subject_mismatch";
inline constexpr char kRuleGiverChildFrom16[] = "consent.giver.child_from_16";
inline constexpr char kRuleGiverGuardianUnder16[] = "consent.giver.guardian_under_16";
inline constexpr char kRuleSyntheticIdRefused[] = "national_id.synthetic_refused";
inline constexpr char kRuleWithdrawn[] = "referral.withdrawn";
inline constexpr char kRuleAlreadyDecided[] = "referral.already_decided";

// The defaults; a deployment may tighten them.
struct PolicyRules {
  // Roles that may refer to BUP.
  std::set<v1::Role> bup_sender_roles = {v1::ROLE_PHYSICIAN, v1::ROLE_PSYCHOLOGIST,
                                         v1::ROLE_CHILD_WELFARE_LEADER};
  // From this age the child's own consent is required (below it, a guardian's).
  int child_consent_age = 16;
  // Statutory-duty justification: at least this many characters and words.
  int justification_min_chars = 30;
  int justification_min_words = 5;
  // PPT: the parent conversation may be at most this many months old.
  int ppt_parent_conversation_max_months = 12;
  // Recipient types that accept the statutory duty to report.
  std::set<v1::AgencyType> statutory_duty_recipients = {v1::AGENCY_TYPE_CHILD_WELFARE};
  // Recipient types that accept referrals at all.
  std::set<v1::AgencyType> referral_recipients = {v1::AGENCY_TYPE_BUP, v1::AGENCY_TYPE_PPT,
                                                  v1::AGENCY_TYPE_CHILD_WELFARE};
  // Synthetic test ids (month + 80) are refused as subjects of consents and
  // referrals (production: `--refuse-synthetic-ids`).
  bool refuse_synthetic_ids = false;
};

// A calendar date (Norwegian local date in production).
struct CivilDate {
  int year = 0, month = 0, day = 0;
  friend bool operator<(const CivilDate& a, const CivilDate& b) {
    if (a.year != b.year) return a.year < b.year;
    if (a.month != b.month) return a.month < b.month;
    return a.day < b.day;
  }
};
CivilDate FromProto(const v1::Date& d);
v1::Date ToProto(const CivilDate& d);
// The calendar date of `t` in `zone` (production: Europe/Oslo).
CivilDate DateOf(absl::Time t, absl::TimeZone zone);
// Europe/Oslo, or UTC if the time zone database is missing.
absl::TimeZone NorwegianTimeZone();
// `d` plus `years` (29 February becomes 28 February in non-leap years).
CivilDate AddYears(const CivilDate& d, int years);

// Everything Send's decision depends on.
struct SendFacts {
  std::string sender_agency;
  v1::Role sender_role = v1::ROLE_UNSPECIFIED;
  std::string recipient_agency;
  v1::AgencyType recipient_type = v1::AGENCY_TYPE_UNSPECIFIED;
  std::string subject_pseudonym;
  bool subject_synthetic = false;  // the subject's national id is a test id
  int subject_age = 0;             // on `today`
  CivilDate today;
  // Exactly one of these is the legal basis (neither: referral.legal_basis).
  std::optional<common::ConsentFacts> consent;
  // What the referral is for, as the sender gave it; empty: the consent's.
  std::string purpose;
  bool statutory_duty = false;
  std::string justification;
  std::optional<CivilDate> parent_conversation;
  bool has_action_log = false;
};

// Giver rule for a consent used (or recorded) for a child of `age`.
std::vector<common::Violation> GiverViolations(const PolicyRules& rules, v1::ConsentGiver giver,
                                               int age);

// National-id rule for the subject of a consent or referral.
std::vector<common::Violation> NationalIdViolations(const PolicyRules& rules, bool synthetic);

// A purpose as compared: ASCII whitespace (and U+00A0) trimmed and collapsed
// to one space; A-Z and the Latin-1 capitals (ÆØÅ, É, Ö, ...) lowercased.
// Other bytes are kept as they are.
std::string NormalizePurpose(absl::string_view purpose);

// Whether a consent holds on `today` for `recipient_agency` of
// `recipient_type`, `purpose` (empty: the consent's own) and subject
// `subject_pseudonym` given for a child of `age`: revoked, expired,
// recipient, purpose, subject and giver rules.
std::vector<common::Violation> ConsentViolations(
    const PolicyRules& rules, const common::ConsentFacts& consent,
    absl::string_view recipient_agency, v1::AgencyType recipient_type, absl::string_view purpose,
    absl::string_view subject_pseudonym, int age, const CivilDate& today);

// Every rule Send violates, in a stable order; empty means allowed.
std::vector<common::Violation> EvaluateSend(const PolicyRules& rules, const SendFacts& facts);

// The rule ids of `violations`, in order.
std::vector<std::string> RuleIds(const std::vector<common::Violation>& violations);

}  // namespace budstikke::referral

#endif  // BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_
