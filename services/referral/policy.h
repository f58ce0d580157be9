// Referral policy: the rules of a Send (docs/ARCHITECTURE.md "Domain rules"), evaluated
// by one pure function that returns EVERY violated rule at once. The rules
// several services share (consent usability, giver by age, national-id rules,
// the recipient-type table, PolicyRules itself) live in
// services/common/policy/; this file adds only what is particular to
// referrals.
//
// Rule ids (stable, machine-readable; see docs/API.md "Rule ids"):
//   referral.recipient_type, referral.legal_basis, referral.bup.sender_role,
//   referral.statutory_duty.recipient, referral.child_welfare.justification,
//   referral.ppt.parent_conversation, referral.ppt.action_log,
//   referral.withdrawn, referral.already_decided, referral.bup.age_limit,
//   referral.ppt.head_signoff, referral.ppt.parent_demand,
//   referral.cosign.consent_scope, referral.cosign.state,
//   referral.supplement.state; and the shared
//   consent.* and national_id.* ids of services/common/policy/rules.h.
//
// Who signs: a direct Send is signed by its sender; a draft is written by an
// initiator (any professional role) and signed by a person of the co-signer
// agency (Cosign). The signer's role is what referral.bup.sender_role and
// referral.ppt.head_signoff check; a draft is evaluated without them (the
// signer is not known yet) and again, in full, when it is co-signed.
//
// Thread safety: pure functions over values.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_
#define BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "budstikke/v1/types.pb.h"
#include "services/common/errors.h"
#include "services/common/policy/consent.h"
#include "services/common/policy/dates.h"
#include "services/common/policy/rules.h"

namespace budstikke::referral {

using policy::CivilDate;
using policy::PolicyRules;

inline constexpr char kRuleRecipientType[] = "referral.recipient_type";
inline constexpr char kRuleLegalBasis[] = "referral.legal_basis";
inline constexpr char kRuleBupSenderRole[] = "referral.bup.sender_role";
inline constexpr char kRuleStatutoryDutyRecipient[] = "referral.statutory_duty.recipient";
inline constexpr char kRuleChildWelfareJustification[] = "referral.child_welfare.justification";
inline constexpr char kRulePptParentConversation[] = "referral.ppt.parent_conversation";
inline constexpr char kRulePptActionLog[] = "referral.ppt.action_log";
inline constexpr char kRuleWithdrawn[] = "referral.withdrawn";
inline constexpr char kRuleAlreadyDecided[] = "referral.already_decided";
inline constexpr char kRuleBupAgeLimit[] = "referral.bup.age_limit";
inline constexpr char kRulePptHeadSignoff[] = "referral.ppt.head_signoff";
inline constexpr char kRulePptParentDemand[] = "referral.ppt.parent_demand";
inline constexpr char kRuleCosignConsentScope[] = "referral.cosign.consent_scope";
inline constexpr char kRuleCosignState[] = "referral.cosign.state";
inline constexpr char kRuleSupplementState[] = "referral.supplement.state";
// Audit only (the caller gets NOT_FOUND): a request for a referral the
// caller's agency cannot open.
inline constexpr char kRuleNotVisible[] = "referral.not_visible";

// Which decision is being made.
enum class SendStage {
  kSend,    // a direct Send: the sender signs
  kDraft,   // a draft: the signer (co-signer) is not known yet
  kCosign,  // the co-signer signs a draft
};

// Everything Send's decision depends on.
struct SendFacts {
  SendStage stage = SendStage::kSend;
  // The signer: the sender of a direct Send, the co-signer of a draft (at
  // kDraft only the agency is known; the role is not checked).
  std::string sender_agency;
  v1::Role sender_role = v1::ROLE_UNSPECIFIED;
  v1::AgencyType sender_type = v1::AGENCY_TYPE_UNSPECIFIED;
  // Who wrote it (equal to the sender for a direct Send; empty: the sender).
  std::string initiating_agency;
  v1::AgencyType initiating_type = v1::AGENCY_TYPE_UNSPECIFIED;
  std::string recipient_agency;
  v1::AgencyType recipient_type = v1::AGENCY_TYPE_UNSPECIFIED;
  std::string subject_pseudonym;
  bool subject_synthetic = false;  // the subject's national id is a test id
  int subject_age = 0;             // on `today`
  CivilDate today;
  // Exactly one of these is the legal basis (neither: referral.legal_basis).
  std::optional<policy::ConsentFacts> consent;
  // What the referral is for, as the sender gave it; empty: the consent's.
  std::string purpose;
  bool statutory_duty = false;
  std::string justification;
  std::optional<CivilDate> parent_conversation;
  bool has_action_log = false;
  // PPT: the parents demand an expert assessment.
  bool parent_demand = false;
};

// Every rule Send violates, in a stable order; empty means allowed.
std::vector<common::Violation> EvaluateSend(const PolicyRules& rules, const SendFacts& facts);

// Urgent routing (øyeblikkelig hjelp). routed_reason values (stable):
inline constexpr char kRoutedNotAPatient[] = "urgent.not_a_patient";
inline constexpr char kRoutedClinicOpen[] = "urgent.known_patient.clinic_open";
inline constexpr char kRoutedClinicClosed[] = "urgent.known_patient.clinic_closed";
inline constexpr char kRoutedNoAcuteUnit[] = "urgent.no_acute_unit";
inline constexpr char kRoutedDirect[] = "urgent.direct";

struct RouteFacts {
  std::string requested_agency;  // the sender's `--to`
  v1::AgencyType requested_type = v1::AGENCY_TYPE_UNSPECIFIED;
  // The requested agency's acute unit in the directory ("" if none).
  std::string acute_unit;
  bool urgent = false;
  bool known_patient = false;
  absl::Time now;
  absl::TimeZone zone;
};
struct Route {
  std::string recipient_agency;
  std::string reason;  // "" when not urgent
};

// Where a referral goes. Not urgent: the requested agency. Urgent, not BUP
// (an acute report to child welfare): the requested agency, "urgent.direct".
// Urgent to BUP: a child who is not a patient there goes to the acute unit;
// a known patient goes to the clinic while it is open (policy::ClinicOpen)
// and to the acute unit otherwise. A BUP without an acute unit receives it
// itself ("urgent.no_acute_unit").
Route RouteReferral(const PolicyRules& rules, const RouteFacts& facts);

}  // namespace budstikke::referral

#endif  // BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_
