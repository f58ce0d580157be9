#include "services/common/policy/consent.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace budstikke::policy {

using common::Violation;

std::vector<Violation> GiverViolations(const PolicyRules& rules, v1::ConsentGiver giver, int age) {
  std::vector<Violation> out;
  if (giver == v1::CONSENT_GIVER_GUARDIAN && age >= rules.child_consent_age) {
    out.push_back({kRuleGiverChildFrom16,
                   absl::StrCat("the child is ", rules.child_consent_age,
                                " or older: the child's own consent is required, not a "
                                "guardian's")});
  }
  if (giver == v1::CONSENT_GIVER_CHILD && age < rules.child_consent_age) {
    out.push_back(
        {kRuleGiverGuardianUnder16, absl::StrCat("the child is under ", rules.child_consent_age,
                                                 ": a guardian's consent is required")});
  }
  return out;
}

std::vector<Violation> NationalIdViolations(const PolicyRules& rules, bool synthetic) {
  std::vector<Violation> out;
  if (synthetic && rules.refuse_synthetic_ids) {
    out.push_back({kRuleSyntheticIdRefused,
                   "synthetic national ids (month + 80) are not accepted by this server; use "
                   "the child's real national id"});
  }
  return out;
}

v1::ConsentStatus ConsentStatusOn(const ConsentFacts& consent, const CivilDate& today) {
  if (consent.revoked) return v1::CONSENT_STATUS_REVOKED;
  if (FromProto(consent.valid_until) < today) return v1::CONSENT_STATUS_EXPIRED;
  return v1::CONSENT_STATUS_ACTIVE;
}

namespace {

bool Covers(const v1::ConsentRecipient& recipient, absl::string_view agency, v1::AgencyType type) {
  switch (recipient.target_case()) {
    case v1::ConsentRecipient::kAgency:
      return !agency.empty() && recipient.agency() == agency;
    case v1::ConsentRecipient::kAgencyType:
      return recipient.agency_type() == type && type != v1::AGENCY_TYPE_UNSPECIFIED;
    default:
      return false;
  }
}

}  // namespace

bool ConsentCovers(const ConsentFacts& consent, absl::string_view agency, v1::AgencyType type) {
  if (consent.recipients.empty()) return Covers(consent.recipient, agency, type);
  for (const v1::ConsentRecipient& r : consent.recipients) {
    if (Covers(r, agency, type)) return true;
  }
  return false;
}

std::vector<Violation> ConsentUsable(const PolicyRules& rules, const ConsentFacts& consent,
                                     const Disclosure& d, const CivilDate& today) {
  std::vector<Violation> out;
  if (d.already_received) return out;
  // Each independently: a revoked consent may also have expired.
  if (consent.revoked) out.push_back({kRuleConsentRevoked, "the consent was revoked"});
  if (FromProto(consent.valid_until) < today) {
    out.push_back({kRuleConsentExpired, "the consent has expired (valid_until has passed)"});
  }
  if (!d.recipient_agency.empty() &&
      !ConsentCovers(consent, d.recipient_agency, d.recipient_type)) {
    out.push_back({kRuleConsentRecipientMismatch,
                   "the consent does not name this recipient agency or its type"});
  }
  if (!d.purpose.empty() && NormalizePurpose(d.purpose) != NormalizePurpose(consent.purpose)) {
    out.push_back({kRuleConsentPurposeMismatch,
                   "the purpose differs from the consent's purpose; omit it or give the "
                   "consent's purpose"});
  }
  if (!d.subject_pseudonym.empty() && consent.subject_pseudonym != d.subject_pseudonym) {
    out.push_back({kRuleConsentSubjectMismatch, "the consent is for another child"});
  }
  if (d.subject_age.has_value()) {
    for (Violation& v : GiverViolations(rules, consent.giver, *d.subject_age)) {
      out.push_back(std::move(v));
    }
  }
  return out;
}

std::string NormalizePurpose(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool pending_space = false;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    const bool nbsp =
        c == 0xC2 && i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) == 0xA0;
    if (absl::ascii_isspace(c) || nbsp) {
      pending_space = !out.empty();
      if (nbsp) ++i;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (c == 0xC3 && i + 1 < in.size()) {
      // U+00C0..U+00DE (Latin-1 capitals, ÆØÅ among them) except U+00D7 (x):
      // the lowercase letter is 0x20 higher in the second byte.
      unsigned char d = static_cast<unsigned char>(in[++i]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) d += 0x20;
      out.push_back(static_cast<char>(c));
      out.push_back(static_cast<char>(d));
    } else {
      out.push_back(absl::ascii_tolower(c));
    }
  }
  return out;
}

std::vector<std::string> RuleIds(const std::vector<Violation>& violations) {
  std::vector<std::string> ids;
  ids.reserve(violations.size());
  for (const Violation& v : violations) ids.push_back(v.rule);
  return ids;
}

}  // namespace budstikke::policy
