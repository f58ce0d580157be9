#include "services/referral/policy.h"

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace budstikke::referral {
namespace {

using common::Violation;

bool IsLeap(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

int DaysIn(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return kDays[m - 1] + (m == 2 && IsLeap(y) ? 1 : 0);
}

CivilDate MonthsBefore(const CivilDate& d, int months) {
  int total = d.year * 12 + (d.month - 1) - months;
  CivilDate r{total / 12, total % 12 + 1, d.day};
  if (r.day > DaysIn(r.year, r.month)) r.day = DaysIn(r.year, r.month);
  return r;
}

// Unicode code points (UTF-8 continuation bytes are not counted).
int CountChars(absl::string_view s) {
  int n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

int CountWords(absl::string_view s) {
  int n = 0;
  bool in_word = false;
  for (char c : s) {
    bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
    if (!space && !in_word) ++n;
    in_word = !space;
  }
  return n;
}

absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

CivilDate FromProto(const v1::Date& d) { return CivilDate{d.year(), d.month(), d.day()}; }

v1::Date ToProto(const CivilDate& d) {
  v1::Date p;
  p.set_year(d.year);
  p.set_month(d.month);
  p.set_day(d.day);
  return p;
}

CivilDate DateOf(absl::Time t, absl::TimeZone zone) {
  const absl::CivilDay day = absl::ToCivilDay(t, zone);
  return CivilDate{static_cast<int>(day.year()), day.month(), day.day()};
}

absl::TimeZone NorwegianTimeZone() {
  absl::TimeZone tz;
  if (absl::LoadTimeZone("Europe/Oslo", &tz)) return tz;
  return absl::UTCTimeZone();
}

CivilDate AddYears(const CivilDate& d, int years) {
  CivilDate r{d.year + years, d.month, d.day};
  if (r.day > DaysIn(r.year, r.month)) r.day = DaysIn(r.year, r.month);
  return r;
}

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

std::string NormalizePurpose(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool pending_space = false;
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    const bool nbsp =
        c == 0xC2 && i + 1 < in.size() && static_cast<unsigned char>(in[i + 1]) == 0xA0;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || nbsp) {
      pending_space = !out.empty();
      if (nbsp) ++i;
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    if (c >= 'A' && c <= 'Z') {
      out.push_back(static_cast<char>(c + ('a' - 'A')));
    } else if (c == 0xC3 && i + 1 < in.size()) {
      // U+00C0..U+00DE (Latin-1 capitals, ÆØÅ among them) except U+00D7 (x):
      // the lowercase letter is 0x20 higher in the second byte.
      unsigned char d = static_cast<unsigned char>(in[++i]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) d += 0x20;
      out.push_back(static_cast<char>(c));
      out.push_back(static_cast<char>(d));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::vector<Violation> ConsentViolations(const PolicyRules& rules,
                                         const common::ConsentFacts& consent,
                                         absl::string_view recipient_agency,
                                         v1::AgencyType recipient_type, absl::string_view purpose,
                                         absl::string_view subject_pseudonym, int age,
                                         const CivilDate& today) {
  std::vector<Violation> out;
  // Each independently: a revoked consent may also have expired.
  if (consent.revoked) {
    out.push_back({kRuleConsentRevoked, "the consent was revoked"});
  }
  if (FromProto(consent.valid_until) < today) {
    out.push_back({kRuleConsentExpired, "the consent has expired (valid_until has passed)"});
  }
  bool recipient_ok = false;
  switch (consent.recipient.target_case()) {
    case v1::ConsentRecipient::kAgency:
      recipient_ok = consent.recipient.agency() == recipient_agency;
      break;
    case v1::ConsentRecipient::kAgencyType:
      recipient_ok = consent.recipient.agency_type() == recipient_type &&
                     recipient_type != v1::AGENCY_TYPE_UNSPECIFIED;
      break;
    default:
      break;
  }
  if (!recipient_ok) {
    out.push_back({kRuleConsentRecipientMismatch,
                   "the consent does not name this recipient agency or its type"});
  }
  if (!purpose.empty() && NormalizePurpose(purpose) != NormalizePurpose(consent.purpose)) {
    out.push_back({kRuleConsentPurposeMismatch,
                   "the purpose differs from the consent's purpose; omit it or give the "
                   "consent's purpose"});
  }
  if (consent.subject_pseudonym != subject_pseudonym) {
    out.push_back({kRuleConsentSubjectMismatch, "the consent is for another child"});
  }
  for (Violation& v : GiverViolations(rules, consent.giver, age)) out.push_back(std::move(v));
  return out;
}

std::vector<Violation> EvaluateSend(const PolicyRules& rules, const SendFacts& f) {
  std::vector<Violation> out = NationalIdViolations(rules, f.subject_synthetic);
  if (!rules.referral_recipients.count(f.recipient_type)) {
    out.push_back({kRuleRecipientType, "the recipient must be BUP, PPT or child welfare"});
  }
  if (f.recipient_type == v1::AGENCY_TYPE_BUP && !rules.bup_sender_roles.count(f.sender_role)) {
    out.push_back({kRuleBupSenderRole,
                   "referrals to BUP must be sent by a physician, psychologist or "
                   "child_welfare_leader"});
  }
  if (!f.consent.has_value() && !f.statutory_duty) {
    out.push_back({kRuleLegalBasis,
                   "give a consent id, or (child welfare only) the statutory duty with a "
                   "justification"});
  }
  if (f.statutory_duty) {
    if (!rules.statutory_duty_recipients.count(f.recipient_type)) {
      out.push_back({kRuleStatutoryDutyRecipient,
                     "the statutory duty to report applies to child welfare only"});
    }
    absl::string_view j = Trim(f.justification);
    if (CountChars(j) < rules.justification_min_chars ||
        CountWords(j) < rules.justification_min_words) {
      out.push_back(
          {kRuleChildWelfareJustification,
           absl::StrCat("the justification needs at least ", rules.justification_min_chars,
                        " characters and ", rules.justification_min_words, " words")});
    }
  }
  if (f.consent.has_value()) {
    for (Violation& v : ConsentViolations(rules, *f.consent, f.recipient_agency, f.recipient_type,
                                          f.purpose, f.subject_pseudonym, f.subject_age, f.today)) {
      out.push_back(std::move(v));
    }
  }
  if (f.recipient_type == v1::AGENCY_TYPE_PPT) {
    const CivilDate oldest = MonthsBefore(f.today, rules.ppt_parent_conversation_max_months);
    if (!f.parent_conversation.has_value() || f.today < *f.parent_conversation ||
        *f.parent_conversation < oldest) {
      out.push_back({kRulePptParentConversation,
                     absl::StrCat("record the parent conversation date (not in the future, "
                                  "at most ",
                                  rules.ppt_parent_conversation_max_months, " months old)")});
    }
    if (!f.has_action_log) {
      out.push_back({kRulePptActionLog, "attach the action log (tiltakslogg, kind ACTION_LOG)"});
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

}  // namespace budstikke::referral
