// The domain rules that several services share, kept as data (PolicyRules) so
// a deployment can tighten them, and the tables every service reads them
// from: which roles answer consultations, which agency types receive
// consultations, referrals and statutory reports.
//
// One place: services/consultation, services/consent, services/referral and
// the authorization table (services/common/authz.cc) read these; none keeps a
// copy. Refusal messages are written from the configured values (RoleList,
// AgencyTypeList), never from hard-coded defaults.
//
// Rule ids (stable, machine-readable; docs/API.md "Rule ids") shared by the
// consent and referral services are declared here; each service declares its
// own.
//
// Thread safety: values and pure functions.
#ifndef BUDSTIKKE_SERVICES_COMMON_POLICY_RULES_H_
#define BUDSTIKKE_SERVICES_COMMON_POLICY_RULES_H_

#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "budstikke/v1/types.pb.h"

namespace budstikke::policy {

inline constexpr char kRuleConsentRevoked[] = "consent.revoked";
inline constexpr char kRuleConsentExpired[] = "consent.expired";
inline constexpr char kRuleConsentRecipientMismatch[] = "consent.recipient_mismatch";
inline constexpr char kRuleConsentPurposeMismatch[] = "consent.purpose_mismatch";
inline constexpr char kRuleConsentSubjectMismatch[] = "consent.subject_mismatch";
inline constexpr char kRuleGiverChildFrom16[] = "consent.giver.child_from_16";
inline constexpr char kRuleGiverGuardianUnder16[] = "consent.giver.guardian_under_16";
inline constexpr char kRuleSyntheticIdRefused[] = "national_id.synthetic_refused";

// Roles that may claim and answer a consultation: any professional role of
// the recipient agency but staff. The authorization table admits exactly
// these to Claim and Answer. (A leader is the head of an agency, not a case
// worker: it signs, it does not answer consultations.)
inline constexpr v1::Role kAnswererRoles[] = {v1::ROLE_CLINICIAN, v1::ROLE_PSYCHOLOGIST,
                                              v1::ROLE_PHYSICIAN, v1::ROLE_CHILD_WELFARE_LEADER};
bool IsAnswererRole(v1::Role role);

// The defaults; a deployment may tighten them.
struct PolicyRules {
  // Roles that may send (sign) a referral to BUP; the initiator of a draft
  // may have any professional role.
  std::set<v1::Role> bup_sender_roles = {v1::ROLE_PHYSICIAN, v1::ROLE_PSYCHOLOGIST,
                                         v1::ROLE_CHILD_WELFARE_LEADER};
  // BUP serves children and youth 0-18: a subject this old or older is refused.
  int bup_max_age = 18;
  // PPT referrals from these agency types must be signed by one of
  // ppt_head_roles of the same agency (the head: styrer, rektor).
  std::set<v1::AgencyType> ppt_head_signoff_types = {v1::AGENCY_TYPE_KINDERGARTEN,
                                                     v1::AGENCY_TYPE_SCHOOL};
  std::set<v1::Role> ppt_head_roles = {v1::ROLE_LEADER};
  // BUP clinic opening hours (Monday-Friday, Norwegian time, public holidays
  // closed): minutes after midnight, open <= t < close.
  int clinic_open_minute = 8 * 60;
  int clinic_close_minute = 15 * 60 + 30;
  // From this age the child's own consent is required (below it, a guardian's).
  int child_consent_age = 16;
  // Statutory-duty justification: at least this many characters and words.
  int justification_min_chars = 30;
  int justification_min_words = 5;
  // PPT: the parent conversation may be at most this many months old.
  int ppt_parent_conversation_max_months = 12;
  // The recipient-type table: who receives what.
  // Consultations (anonymous): configurable (`--consultation-recipient-types`).
  std::set<v1::AgencyType> consultation_recipients = {
      v1::AGENCY_TYPE_PPT, v1::AGENCY_TYPE_HEALTH_STATION, v1::AGENCY_TYPE_CHILD_WELFARE,
      v1::AGENCY_TYPE_BUP};
  std::set<v1::AgencyType> referral_recipients = {v1::AGENCY_TYPE_BUP, v1::AGENCY_TYPE_PPT,
                                                  v1::AGENCY_TYPE_CHILD_WELFARE};
  std::set<v1::AgencyType> statutory_duty_recipients = {v1::AGENCY_TYPE_CHILD_WELFARE};
  // Synthetic test ids (month + 80) are refused as subjects of consents and
  // referrals (production: `--refuse-synthetic-ids`).
  bool refuse_synthetic_ids = false;
};

// "physician, psychologist or child_welfare_leader" (role names as in SPIFFE
// ids), in the order given (a set: enum order).
std::string RoleList(absl::Span<const v1::Role> roles);
std::string RoleList(const std::set<v1::Role>& roles);
// "BUP, PPT or child welfare", in enum order.
std::string AgencyTypeList(const std::set<v1::AgencyType>& types);

// "bup,ppt,child_welfare,health_station" (type names as in the directory's
// JSON, comma-separated) -> the set; INVALID_ARGUMENT naming an unknown name
// or an empty list.
absl::StatusOr<std::set<v1::AgencyType>> ParseAgencyTypeNames(absl::string_view csv);

}  // namespace budstikke::policy

#endif  // BUDSTIKKE_SERVICES_COMMON_POLICY_RULES_H_
