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
//   referral.withdrawn, referral.already_decided; and the shared consent.*
//   and national_id.* ids of services/common/policy/rules.h.
//
// Thread safety: pure functions over values.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_
#define BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_

#include <optional>
#include <string>
#include <vector>

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
  std::optional<policy::ConsentFacts> consent;
  // What the referral is for, as the sender gave it; empty: the consent's.
  std::string purpose;
  bool statutory_duty = false;
  std::string justification;
  std::optional<CivilDate> parent_conversation;
  bool has_action_log = false;
};

// Every rule Send violates, in a stable order; empty means allowed.
std::vector<common::Violation> EvaluateSend(const PolicyRules& rules, const SendFacts& facts);

}  // namespace budstikke::referral

#endif  // BUDSTIKKE_SERVICES_REFERRAL_POLICY_H_
