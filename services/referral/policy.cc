#include "services/referral/policy.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/policy/calendar.h"
#include "services/common/text.h"

namespace budstikke::referral {
namespace {

using common::Violation;

int CountWords(absl::string_view s) {
  return static_cast<int>(std::vector<absl::string_view>(
                              absl::StrSplit(s, absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty()))
                              .size());
}

void Append(std::vector<Violation>* out, std::vector<Violation> more) {
  for (Violation& v : more) out->push_back(std::move(v));
}

std::vector<Violation> StatutoryDutyViolations(const PolicyRules& rules, const SendFacts& f) {
  std::vector<Violation> out;
  if (!rules.statutory_duty_recipients.count(f.recipient_type)) {
    out.push_back({kRuleStatutoryDutyRecipient,
                   absl::StrCat("the statutory duty to report applies to ",
                                policy::AgencyTypeList(rules.statutory_duty_recipients), " only")});
  }
  absl::string_view j = absl::StripAsciiWhitespace(f.justification);
  if (static_cast<int>(common::Utf8Length(j)) < rules.justification_min_chars ||
      CountWords(j) < rules.justification_min_words) {
    out.push_back({kRuleChildWelfareJustification,
                   absl::StrCat("the justification needs at least ", rules.justification_min_chars,
                                " characters and ", rules.justification_min_words, " words")});
  }
  return out;
}

std::vector<Violation> PptViolations(const PolicyRules& rules, const SendFacts& f) {
  std::vector<Violation> out;
  // A parents' demand needs neither (referral.ppt.parent_demand instead).
  if (f.parent_demand) return out;
  const CivilDate oldest = policy::AddMonths(f.today, -rules.ppt_parent_conversation_max_months);
  if (!f.parent_conversation.has_value() || f.today < *f.parent_conversation ||
      *f.parent_conversation < oldest) {
    out.push_back({kRulePptParentConversation,
                   absl::StrCat("record the parent conversation date (not in the future, at most ",
                                rules.ppt_parent_conversation_max_months, " months old)")});
  }
  if (!f.has_action_log) {
    out.push_back({kRulePptActionLog, "attach the action log (tiltakslogg, kind ACTION_LOG)"});
  }
  return out;
}

const std::string& Initiator(const SendFacts& f) {
  return f.initiating_agency.empty() ? f.sender_agency : f.initiating_agency;
}

// PPT referrals of a kindergarten or school are signed by its head.
std::vector<Violation> HeadSignoffViolations(const PolicyRules& rules, const SendFacts& f) {
  const v1::AgencyType initiator_type =
      f.initiating_agency.empty() ? f.sender_type : f.initiating_type;
  if (f.recipient_type != v1::AGENCY_TYPE_PPT ||
      !rules.ppt_head_signoff_types.count(initiator_type)) {
    return {};
  }
  const bool same_agency = f.sender_agency == Initiator(f);
  const bool head = f.stage == SendStage::kDraft || rules.ppt_head_roles.count(f.sender_role);
  if (same_agency && head) return {};
  return {{kRulePptHeadSignoff,
           absl::StrCat("a PPT referral from a ", policy::AgencyTypeList({initiator_type}),
                        " must be co-signed by a ", policy::RoleList(rules.ppt_head_roles),
                        " of the same agency (referral draft --cosigner <own agency>)")}};
}

// The consent must cover the co-signer (another agency than the initiator)
// as well as the final recipient.
std::vector<Violation> CosignScopeViolations(const SendFacts& f) {
  if (f.stage == SendStage::kSend || !f.consent.has_value() || f.sender_agency == Initiator(f)) {
    return {};
  }
  if (policy::ConsentCovers(*f.consent, f.sender_agency, f.sender_type)) return {};
  return {{kRuleCosignConsentScope,
           "the consent must name the co-signer agency (or its type) as well as the recipient"}};
}

std::vector<Violation> ParentDemandViolations(const SendFacts& f) {
  if (!f.parent_demand) return {};
  if (f.recipient_type != v1::AGENCY_TYPE_PPT) {
    return {{kRulePptParentDemand, "the parents' demand for an expert assessment is for PPT"}};
  }
  if (!f.consent.has_value() || f.consent->giver != v1::CONSENT_GIVER_GUARDIAN) {
    return {{kRulePptParentDemand, "the parents' demand needs a guardian's consent"}};
  }
  return {};
}

}  // namespace

Route RouteReferral(const PolicyRules& rules, const RouteFacts& f) {
  if (!f.urgent) return {f.requested_agency, ""};
  if (f.requested_type != v1::AGENCY_TYPE_BUP) return {f.requested_agency, kRoutedDirect};
  if (f.acute_unit.empty()) return {f.requested_agency, kRoutedNoAcuteUnit};
  if (!f.known_patient) return {f.acute_unit, kRoutedNotAPatient};
  if (policy::ClinicOpen(rules, f.now, f.zone)) return {f.requested_agency, kRoutedClinicOpen};
  return {f.acute_unit, kRoutedClinicClosed};
}

std::vector<Violation> EvaluateSend(const PolicyRules& rules, const SendFacts& f) {
  std::vector<Violation> out = policy::NationalIdViolations(rules, f.subject_synthetic);
  if (!rules.referral_recipients.count(f.recipient_type)) {
    out.push_back(
        {kRuleRecipientType, absl::StrCat("the recipient must be ",
                                          policy::AgencyTypeList(rules.referral_recipients))});
  }
  if (f.recipient_type == v1::AGENCY_TYPE_BUP && f.subject_age >= rules.bup_max_age) {
    out.push_back({kRuleBupAgeLimit,
                   absl::StrCat("BUP serves children and youth under ", rules.bup_max_age)});
  }
  if (f.recipient_type == v1::AGENCY_TYPE_BUP && f.stage != SendStage::kDraft &&
      !rules.bup_sender_roles.count(f.sender_role)) {
    out.push_back(
        {kRuleBupSenderRole, absl::StrCat("referrals to BUP must be sent (or co-signed) by a ",
                                          policy::RoleList(rules.bup_sender_roles))});
  }
  Append(&out, HeadSignoffViolations(rules, f));
  if (!f.consent.has_value() && !f.statutory_duty) {
    out.push_back(
        {kRuleLegalBasis, absl::StrCat("give a consent id, or (",
                                       policy::AgencyTypeList(rules.statutory_duty_recipients),
                                       " only) the statutory duty with a justification")});
  }
  if (f.statutory_duty) Append(&out, StatutoryDutyViolations(rules, f));
  if (f.consent.has_value()) {
    policy::Disclosure d;
    d.recipient_agency = f.recipient_agency;
    d.recipient_type = f.recipient_type;
    d.purpose = f.purpose;
    d.subject_pseudonym = f.subject_pseudonym;
    d.subject_age = f.subject_age;
    Append(&out, policy::ConsentUsable(rules, *f.consent, d, f.today));
  }
  Append(&out, CosignScopeViolations(f));
  Append(&out, ParentDemandViolations(f));
  if (f.recipient_type == v1::AGENCY_TYPE_PPT) Append(&out, PptViolations(rules, f));
  return out;
}

}  // namespace budstikke::referral
