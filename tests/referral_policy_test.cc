// The policy table: every recipient type x sender role x age (15, 16, from
// synthetic national ids) x consent state gives an exact outcome and the exact
// list of violated rule ids, with literal rows spelled out per recipient type.
// Plus the statutory-duty, PPT, purpose, giver and synthetic-id rules.
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/national_id.h"
#include "services/common/national_id_testing.h"
#include "services/referral/policy.h"

namespace budstikke::referral {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;
using Rules = std::vector<std::string>;
using policy::GiverViolations;
using policy::NationalIdViolations;
using policy::NormalizePurpose;
using policy::RuleIds;

constexpr CivilDate kToday{2025, 6, 1};

int AgeFromSyntheticId(int age) {
  // 15: turns 16 tomorrow; 16: turned 16 today (the boundaries).
  const std::string digits =
      age == 15 ? common::testing::MakeSyntheticNationalIdAgedOn(15, 2025, 6, 1)
                : common::testing::MakeSyntheticNationalIdWithBirthdayOn(age, 2025, 6, 1);
  auto id = common::NationalId::Parse(digits);
  EXPECT_TRUE(id.ok()) << id.status();
  EXPECT_TRUE(id->is_synthetic());
  return id->AgeOn(static_cast<int>(kToday.year()), kToday.month(), kToday.day());
}

// kNone: neither consent nor statutory duty. kStatutoryDuty: no consent, the
// duty to report with a good justification. The others name a consent (with
// the right giver for the age unless the state is about the giver).
enum class ConsentState {
  kNone,
  kStatutoryDuty,
  kGuardian,
  kChild,
  kExpired,
  kRevoked,
  kRevokedAndExpired,
  kWrongRecipient,
  kPurposeMismatch,
  kPurposeSpelledDifferently,
};

const char* Name(ConsentState s) {
  switch (s) {
    case ConsentState::kNone:
      return "none";
    case ConsentState::kStatutoryDuty:
      return "statutory_duty";
    case ConsentState::kGuardian:
      return "guardian";
    case ConsentState::kChild:
      return "child";
    case ConsentState::kExpired:
      return "expired";
    case ConsentState::kRevoked:
      return "revoked";
    case ConsentState::kRevokedAndExpired:
      return "revoked_and_expired";
    case ConsentState::kWrongRecipient:
      return "wrong_recipient";
    case ConsentState::kPurposeMismatch:
      return "purpose_mismatch";
    case ConsentState::kPurposeSpelledDifferently:
      return "purpose_spelled_differently";
  }
  return "?";
}

struct Recipient {
  v1::AgencyType type;
  const char* agency;
};
const Recipient kBup{v1::AGENCY_TYPE_BUP, "bup-oslo"};
const Recipient kPpt{v1::AGENCY_TYPE_PPT, "ppt-oslo"};
const Recipient kCw{v1::AGENCY_TYPE_CHILD_WELFARE, "barnevern-oslo"};

SendFacts Facts(const Recipient& to, v1::Role role, int age, ConsentState state) {
  SendFacts f;
  f.sender_agency = "legekontor-sentrum";
  f.sender_role = role;
  f.recipient_agency = to.agency;
  f.recipient_type = to.type;
  f.subject_pseudonym = "p1";
  f.subject_age = age;
  f.today = kToday;
  // The worry routine is followed (PPT rules are tested separately).
  f.parent_conversation = CivilDate{2025, 5, 20};
  f.has_action_log = true;
  if (state == ConsentState::kNone) return f;
  if (state == ConsentState::kStatutoryDuty) {
    f.statutory_duty = true;
    f.justification = "Barnet har fortalt om vold hjemme og har synlige blåmerker.";
    return f;
  }
  policy::ConsentFacts c;
  c.id = "cns-1";
  c.recording_agency = f.sender_agency;
  c.subject_pseudonym = "p1";
  c.recipient.set_agency(to.agency);
  c.purpose = "Utredning på BUP";
  c.valid_until.set_year(2026);
  c.valid_until.set_month(1);
  c.valid_until.set_day(1);
  // The right giver for the age, except in the giver states themselves.
  c.giver = age >= 16 ? v1::CONSENT_GIVER_CHILD : v1::CONSENT_GIVER_GUARDIAN;
  switch (state) {
    case ConsentState::kGuardian:
      c.giver = v1::CONSENT_GIVER_GUARDIAN;
      break;
    case ConsentState::kChild:
      c.giver = v1::CONSENT_GIVER_CHILD;
      break;
    case ConsentState::kExpired:
      c.valid_until.set_year(2025);
      c.valid_until.set_month(5);
      c.valid_until.set_day(31);
      break;
    case ConsentState::kRevoked:
      c.revoked = true;
      break;
    case ConsentState::kRevokedAndExpired:
      c.revoked = true;
      c.valid_until.set_year(2025);
      c.valid_until.set_month(5);
      c.valid_until.set_day(31);
      break;
    case ConsentState::kWrongRecipient:
      c.recipient.set_agency("bup-bergen");
      break;
    case ConsentState::kPurposeMismatch:
      f.purpose = "forskning på søvn";
      break;
    case ConsentState::kPurposeSpelledDifferently:
      f.purpose = " UTREDNING  PÅ\tbup ";
      break;
    default:
      break;
  }
  f.consent = c;
  return f;
}

// The expected rule ids, written out per dimension.
Rules Expected(const Recipient& to, v1::Role role, int age, ConsentState state) {
  Rules rules;
  const bool bup_role_ok = role == v1::ROLE_PHYSICIAN || role == v1::ROLE_PSYCHOLOGIST ||
                           role == v1::ROLE_CHILD_WELFARE_LEADER;
  if (to.type == v1::AGENCY_TYPE_BUP && !bup_role_ok) rules.push_back("referral.bup.sender_role");
  static const std::map<std::tuple<ConsentState, int>, Rules> kConsent = {
      {{ConsentState::kGuardian, 15}, {}},
      {{ConsentState::kGuardian, 16}, {"consent.giver.child_from_16"}},
      {{ConsentState::kChild, 15}, {"consent.giver.guardian_under_16"}},
      {{ConsentState::kChild, 16}, {}},
      {{ConsentState::kExpired, 15}, {"consent.expired"}},
      {{ConsentState::kExpired, 16}, {"consent.expired"}},
      {{ConsentState::kRevoked, 15}, {"consent.revoked"}},
      {{ConsentState::kRevoked, 16}, {"consent.revoked"}},
      {{ConsentState::kRevokedAndExpired, 15}, {"consent.revoked", "consent.expired"}},
      {{ConsentState::kRevokedAndExpired, 16}, {"consent.revoked", "consent.expired"}},
      {{ConsentState::kWrongRecipient, 15}, {"consent.recipient_mismatch"}},
      {{ConsentState::kWrongRecipient, 16}, {"consent.recipient_mismatch"}},
      {{ConsentState::kPurposeMismatch, 15}, {"consent.purpose_mismatch"}},
      {{ConsentState::kPurposeMismatch, 16}, {"consent.purpose_mismatch"}},
      {{ConsentState::kPurposeSpelledDifferently, 15}, {}},
      {{ConsentState::kPurposeSpelledDifferently, 16}, {}},
  };
  if (state == ConsentState::kNone) {
    // Child welfare too: without consent it needs the statutory duty.
    rules.push_back("referral.legal_basis");
  } else if (state == ConsentState::kStatutoryDuty) {
    if (to.type != v1::AGENCY_TYPE_CHILD_WELFARE) {
      rules.push_back("referral.statutory_duty.recipient");
    }
  } else {
    for (const auto& r : kConsent.at({state, age})) rules.push_back(r);
  }
  return rules;
}

TEST(ReferralPolicyTable, EveryRecipientRoleAgeAndConsentState) {
  const PolicyRules defaults;
  int rows = 0, allowed = 0;
  for (const Recipient& to : {kBup, kPpt, kCw}) {
    for (v1::Role role : {v1::ROLE_STAFF, v1::ROLE_PHYSICIAN, v1::ROLE_PSYCHOLOGIST,
                          v1::ROLE_CHILD_WELFARE_LEADER, v1::ROLE_CLINICIAN}) {
      for (int age : {AgeFromSyntheticId(15), AgeFromSyntheticId(16)}) {
        for (ConsentState state :
             {ConsentState::kNone, ConsentState::kStatutoryDuty, ConsentState::kGuardian,
              ConsentState::kChild, ConsentState::kExpired, ConsentState::kRevoked,
              ConsentState::kRevokedAndExpired, ConsentState::kWrongRecipient,
              ConsentState::kPurposeMismatch, ConsentState::kPurposeSpelledDifferently}) {
          const Rules want = Expected(to, role, age, state);
          const Rules got = RuleIds(EvaluateSend(defaults, Facts(to, role, age, state)));
          EXPECT_EQ(got, want) << to.agency << " role=" << v1::Role_Name(role) << " age=" << age
                               << " consent=" << Name(state);
          ++rows;
          allowed += got.empty();
        }
      }
    }
  }
  EXPECT_EQ(rows, 3 * 5 * 2 * 10);
  // Allowed rows: BUP 3 roles x (guardian@15, child@16, purpose spelled
  // differently @15 and @16); PPT 5 x those 4; child welfare 5 x (those 4,
  // statutory@15, statutory@16).
  EXPECT_EQ(allowed, 3 * 4 + 5 * 4 + 5 * 6);
}

// Literal rows: the exact rule-id list written out, not computed.
struct LiteralRow {
  Recipient to;
  v1::Role role;
  int age;
  ConsentState state;
  Rules want;
};

TEST(ReferralPolicyTable, LiteralRowsPerRecipientType) {
  const std::vector<LiteralRow> rows = {
      // BUP.
      {kBup,
       v1::ROLE_STAFF,
       15,
       ConsentState::kNone,
       {"referral.bup.sender_role", "referral.legal_basis"}},
      {kBup, v1::ROLE_PHYSICIAN, 15, ConsentState::kGuardian, {}},
      {kBup, v1::ROLE_PHYSICIAN, 16, ConsentState::kGuardian, {"consent.giver.child_from_16"}},
      {kBup,
       v1::ROLE_CLINICIAN,
       16,
       ConsentState::kRevokedAndExpired,
       {"referral.bup.sender_role", "consent.revoked", "consent.expired"}},
      {kBup,
       v1::ROLE_PSYCHOLOGIST,
       15,
       ConsentState::kPurposeMismatch,
       {"consent.purpose_mismatch"}},
      {kBup,
       v1::ROLE_PHYSICIAN,
       15,
       ConsentState::kStatutoryDuty,
       {"referral.statutory_duty.recipient"}},
      {kBup, v1::ROLE_CHILD_WELFARE_LEADER, 16, ConsentState::kPurposeSpelledDifferently, {}},
      // PPT.
      {kPpt, v1::ROLE_STAFF, 15, ConsentState::kNone, {"referral.legal_basis"}},
      {kPpt, v1::ROLE_STAFF, 15, ConsentState::kChild, {"consent.giver.guardian_under_16"}},
      {kPpt,
       v1::ROLE_PSYCHOLOGIST,
       16,
       ConsentState::kWrongRecipient,
       {"consent.recipient_mismatch"}},
      {kPpt,
       v1::ROLE_STAFF,
       16,
       ConsentState::kStatutoryDuty,
       {"referral.statutory_duty.recipient"}},
      {kPpt,
       v1::ROLE_STAFF,
       15,
       ConsentState::kRevokedAndExpired,
       {"consent.revoked", "consent.expired"}},
      {kPpt, v1::ROLE_STAFF, 16, ConsentState::kChild, {}},
      // Child welfare: no consent and no statutory duty is refused.
      {kCw, v1::ROLE_STAFF, 15, ConsentState::kNone, {"referral.legal_basis"}},
      {kCw, v1::ROLE_CHILD_WELFARE_LEADER, 16, ConsentState::kNone, {"referral.legal_basis"}},
      {kCw, v1::ROLE_STAFF, 15, ConsentState::kStatutoryDuty, {}},
      {kCw, v1::ROLE_CLINICIAN, 16, ConsentState::kStatutoryDuty, {}},
      {kCw, v1::ROLE_STAFF, 16, ConsentState::kExpired, {"consent.expired"}},
      {kCw, v1::ROLE_PHYSICIAN, 15, ConsentState::kPurposeMismatch, {"consent.purpose_mismatch"}},
      {kCw,
       v1::ROLE_STAFF,
       16,
       ConsentState::kRevokedAndExpired,
       {"consent.revoked", "consent.expired"}},
      {kCw, v1::ROLE_STAFF, 16, ConsentState::kGuardian, {"consent.giver.child_from_16"}},
  };
  for (const LiteralRow& row : rows) {
    EXPECT_EQ(RuleIds(EvaluateSend(PolicyRules(), Facts(row.to, row.role, row.age, row.state))),
              row.want)
        << row.to.agency << " role=" << v1::Role_Name(row.role) << " age=" << row.age
        << " consent=" << Name(row.state);
  }
}

TEST(ReferralPolicy, EveryConsentRuleAtOnce) {
  // Revoked, expired, another recipient, another purpose, another child and
  // the wrong giver: all six listed, in the stable order.
  SendFacts f = Facts(kBup, v1::ROLE_STAFF, 16, ConsentState::kRevokedAndExpired);
  f.consent->giver = v1::CONSENT_GIVER_GUARDIAN;
  f.consent->recipient.set_agency("bup-bergen");
  f.consent->subject_pseudonym = "p2";
  f.purpose = "forskning";
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)),
              ElementsAre("referral.bup.sender_role", "consent.revoked", "consent.expired",
                          "consent.recipient_mismatch", "consent.purpose_mismatch",
                          "consent.subject_mismatch", "consent.giver.child_from_16"));
}

TEST(ReferralPolicy, PurposeIsComparedNormalized) {
  EXPECT_EQ(NormalizePurpose("  Utredning \t\n PÅ   BUP  "), "utredning på bup");
  EXPECT_EQ(NormalizePurpose("ÆRLIG ØNSKE ÅPENT"), "ærlig ønske åpent");
  EXPECT_EQ(NormalizePurpose("a\xc2\xa0"
                             "b"),
            "a b");  // no-break space
  EXPECT_EQ(NormalizePurpose(""), "");
  EXPECT_EQ(NormalizePurpose("   "), "");
  SendFacts f = Facts(kBup, v1::ROLE_PHYSICIAN, 10, ConsentState::kGuardian);
  f.purpose = "utredning på bup";
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), IsEmpty());
  f.purpose = "utredning på bup og ppt";
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), ElementsAre("consent.purpose_mismatch"));
  f.purpose = "utredningpå bup";  // whitespace between words still matters
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), ElementsAre("consent.purpose_mismatch"));
}

TEST(ReferralPolicy, SyntheticIdsRefusedWhenTheDeploymentSaysSo) {
  SendFacts f = Facts(kBup, v1::ROLE_PHYSICIAN, AgeFromSyntheticId(15), ConsentState::kGuardian);
  f.subject_synthetic = true;
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), IsEmpty());
  PolicyRules production;
  production.refuse_synthetic_ids = true;
  EXPECT_THAT(RuleIds(EvaluateSend(production, f)), ElementsAre("national_id.synthetic_refused"));
  // Listed together with the other violated rules.
  f.sender_role = v1::ROLE_STAFF;
  EXPECT_THAT(RuleIds(EvaluateSend(production, f)),
              ElementsAre("national_id.synthetic_refused", "referral.bup.sender_role"));
  EXPECT_THAT(RuleIds(NationalIdViolations(production, /*synthetic=*/true)),
              ElementsAre("national_id.synthetic_refused"));
  EXPECT_THAT(RuleIds(NationalIdViolations(production, /*synthetic=*/false)), IsEmpty());
  EXPECT_THAT(RuleIds(NationalIdViolations(PolicyRules(), /*synthetic=*/true)), IsEmpty());
}

TEST(ReferralPolicyTable, SpotRowsSpelledOut) {
  const PolicyRules d;
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kBup, v1::ROLE_STAFF, 15, ConsentState::kGuardian))),
              ElementsAre("referral.bup.sender_role"));
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kBup, v1::ROLE_STAFF, 16, ConsentState::kGuardian))),
              ElementsAre("referral.bup.sender_role", "consent.giver.child_from_16"));
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kBup, v1::ROLE_CLINICIAN, 15, ConsentState::kNone))),
              ElementsAre("referral.bup.sender_role", "referral.legal_basis"));
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kCw, v1::ROLE_STAFF, 15, ConsentState::kNone))),
              ElementsAre("referral.legal_basis"));
  EXPECT_THAT(
      RuleIds(EvaluateSend(d, Facts(kCw, v1::ROLE_STAFF, 15, ConsentState::kStatutoryDuty))),
      IsEmpty());
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kPpt, v1::ROLE_STAFF, 15, ConsentState::kChild))),
              ElementsAre("consent.giver.guardian_under_16"));
}

TEST(ReferralPolicy, ConsentForARecipientTypeMatchesThatTypeOnly) {
  SendFacts f = Facts(kBup, v1::ROLE_PHYSICIAN, 10, ConsentState::kGuardian);
  f.consent->recipient.set_agency_type(v1::AGENCY_TYPE_BUP);
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), IsEmpty());
  f.consent->recipient.set_agency_type(v1::AGENCY_TYPE_PPT);
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), ElementsAre("consent.recipient_mismatch"));
}

TEST(ReferralPolicy, ConsentForAnotherChild) {
  SendFacts f = Facts(kBup, v1::ROLE_PHYSICIAN, 10, ConsentState::kGuardian);
  f.consent->subject_pseudonym = "p2";
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), ElementsAre("consent.subject_mismatch"));
}

TEST(ReferralPolicy, ExpiresAfterTheLastDay) {
  SendFacts f = Facts(kBup, v1::ROLE_PHYSICIAN, 10, ConsentState::kGuardian);
  f.consent->valid_until.set_year(2025);
  f.consent->valid_until.set_month(6);
  f.consent->valid_until.set_day(1);  // today: still valid
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), IsEmpty());
  f.today = CivilDate{2025, 6, 2};
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), ElementsAre("consent.expired"));
}

TEST(ReferralPolicy, StatutoryDutyOnlyToChildWelfareWithAJustification) {
  SendFacts f = Facts(kBup, v1::ROLE_PHYSICIAN, 10, ConsentState::kNone);
  f.statutory_duty = true;
  f.justification = "Barnet har fortalt om vold hjemme og har synlige blåmerker.";
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)),
              ElementsAre("referral.statutory_duty.recipient"));

  SendFacts cw = Facts(kCw, v1::ROLE_STAFF, 10, ConsentState::kStatutoryDuty);
  cw.justification = "Barnet har blåmerker på armene.";  // 31 chars, 5 words: enough
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), cw)), IsEmpty());
  cw.justification = "Bekymret for barnet sitt";  // 4 words, 24 chars
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), cw)),
              ElementsAre("referral.child_welfare.justification"));
  cw.justification = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";  // one long word
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), cw)),
              ElementsAre("referral.child_welfare.justification"));
  cw.justification = "a b c d e f g";  // many words, too short
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), cw)),
              ElementsAre("referral.child_welfare.justification"));
}

TEST(ReferralPolicy, PptNeedsTheWorryRoutine) {
  SendFacts f = Facts(kPpt, v1::ROLE_STAFF, 5, ConsentState::kGuardian);
  f.parent_conversation.reset();
  f.has_action_log = false;
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)),
              ElementsAre("referral.ppt.parent_conversation", "referral.ppt.action_log"));
  f.has_action_log = true;
  f.parent_conversation = CivilDate{2025, 6, 2};  // in the future
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)),
              ElementsAre("referral.ppt.parent_conversation"));
  f.parent_conversation = CivilDate{2024, 6, 1};  // exactly 12 months: ok
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), IsEmpty());
  f.parent_conversation = CivilDate{2024, 5, 31};  // older
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)),
              ElementsAre("referral.ppt.parent_conversation"));
}

TEST(ReferralPolicy, RecipientTypeMustTakeReferrals) {
  SendFacts f =
      Facts({v1::AGENCY_TYPE_SCHOOL, "skole-oslo"}, v1::ROLE_STAFF, 10, ConsentState::kGuardian);
  EXPECT_THAT(RuleIds(EvaluateSend(PolicyRules(), f)), ElementsAre("referral.recipient_type"));
}

TEST(ReferralPolicy, ADeploymentCanTightenTheRules) {
  PolicyRules strict;
  strict.bup_sender_roles = {v1::ROLE_PHYSICIAN};
  strict.justification_min_words = 8;
  EXPECT_THAT(RuleIds(EvaluateSend(
                  strict, Facts(kBup, v1::ROLE_PSYCHOLOGIST, 10, ConsentState::kGuardian))),
              ElementsAre("referral.bup.sender_role"));
  SendFacts cw = Facts(kCw, v1::ROLE_STAFF, 10, ConsentState::kStatutoryDuty);
  cw.justification = "Barnet har blåmerker på armene.";
  EXPECT_THAT(RuleIds(EvaluateSend(strict, cw)),
              ElementsAre("referral.child_welfare.justification"));
}

TEST(ReferralPolicy, GiverRuleAtTheSixteenthBirthday) {
  const PolicyRules d;
  EXPECT_THAT(RuleIds(GiverViolations(d, v1::CONSENT_GIVER_GUARDIAN, AgeFromSyntheticId(15))),
              IsEmpty());
  EXPECT_THAT(RuleIds(GiverViolations(d, v1::CONSENT_GIVER_GUARDIAN, AgeFromSyntheticId(16))),
              ElementsAreArray({"consent.giver.child_from_16"}));
  EXPECT_THAT(RuleIds(GiverViolations(d, v1::CONSENT_GIVER_CHILD, AgeFromSyntheticId(15))),
              ElementsAreArray({"consent.giver.guardian_under_16"}));
}

}  // namespace
}  // namespace budstikke::referral
