// The policy table: every recipient type x sender role x age (15, 16, from
// synthetic national ids) x consent state gives an exact outcome and the exact
// list of violated rule ids, with literal rows spelled out per recipient type.
// Plus the statutory-duty, PPT, purpose, giver and synthetic-id rules.
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/national_id.h"
#include "services/common/national_id_testing.h"
#include "services/common/policy/calendar.h"
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

// ---------------------------------------------------------------------------
// Issue 19: age limit, co-signing, the head's sign-off, parents' demand and
// urgent routing.

TEST(ReferralPolicy, BupServesUnder18Only) {
  const PolicyRules d;
  // 17: accepted; 18: refused (the child's own consent, right giver).
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kBup, v1::ROLE_PHYSICIAN, 17, ConsentState::kChild))),
              IsEmpty());
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kBup, v1::ROLE_PHYSICIAN, 18, ConsentState::kChild))),
              ElementsAre("referral.bup.age_limit"));
  // Listed with the other violated rules.
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kBup, v1::ROLE_STAFF, 18, ConsentState::kGuardian))),
              ElementsAre("referral.bup.age_limit", "referral.bup.sender_role",
                          "consent.giver.child_from_16"));
  // PPT and child welfare have no such limit here.
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kPpt, v1::ROLE_STAFF, 18, ConsentState::kChild))),
              IsEmpty());
  EXPECT_THAT(RuleIds(EvaluateSend(d, Facts(kCw, v1::ROLE_STAFF, 18, ConsentState::kChild))),
              IsEmpty());
}

// A health-station nurse drafts to BUP; a GP office co-signs.
SendFacts CosignFacts(SendStage stage, v1::Role signer_role) {
  SendFacts f = Facts(kBup, signer_role, 10, ConsentState::kGuardian);
  f.stage = stage;
  f.initiating_agency = "helsestasjon-oslo";
  f.initiating_type = v1::AGENCY_TYPE_HEALTH_STATION;
  f.sender_agency = "legekontor-sentrum";
  f.sender_type = v1::AGENCY_TYPE_GP;
  f.consent->recording_agency = "helsestasjon-oslo";
  f.consent->recipient.set_agency("bup-oslo");
  v1::ConsentRecipient gp;
  gp.set_agency("legekontor-sentrum");
  f.consent->recipients = {f.consent->recipient, gp};
  return f;
}

TEST(ReferralPolicyTable, CosignerRoles) {
  const PolicyRules d;
  // The draft is not checked for the signer's role (it is not known yet).
  EXPECT_THAT(RuleIds(EvaluateSend(d, CosignFacts(SendStage::kDraft, v1::ROLE_UNSPECIFIED))),
              IsEmpty());
  const std::map<v1::Role, Rules> want = {
      {v1::ROLE_STAFF, {"referral.bup.sender_role"}},
      {v1::ROLE_CLINICIAN, {"referral.bup.sender_role"}},
      {v1::ROLE_LEADER, {"referral.bup.sender_role"}},
      {v1::ROLE_PHYSICIAN, {}},
      {v1::ROLE_PSYCHOLOGIST, {}},
      {v1::ROLE_CHILD_WELFARE_LEADER, {}},
  };
  for (const auto& [role, rules] : want) {
    EXPECT_EQ(RuleIds(EvaluateSend(d, CosignFacts(SendStage::kCosign, role))), rules)
        << v1::Role_Name(role);
  }
}

TEST(ReferralPolicy, TheConsentMustCoverTheCosigner) {
  const PolicyRules d;
  SendFacts f = CosignFacts(SendStage::kDraft, v1::ROLE_UNSPECIFIED);
  f.consent->recipients.resize(1);  // BUP only
  EXPECT_THAT(RuleIds(EvaluateSend(d, f)), ElementsAre("referral.cosign.consent_scope"));
  f.stage = SendStage::kCosign;
  f.sender_role = v1::ROLE_PHYSICIAN;
  EXPECT_THAT(RuleIds(EvaluateSend(d, f)), ElementsAre("referral.cosign.consent_scope"));
  // By type: any GP office.
  v1::ConsentRecipient gps;
  gps.set_agency_type(v1::AGENCY_TYPE_GP);
  f.consent->recipients.push_back(gps);
  EXPECT_THAT(RuleIds(EvaluateSend(d, f)), IsEmpty());
  // The recipient must still be covered too.
  f.consent->recipients = {gps};
  f.consent->recipient = gps;
  EXPECT_THAT(RuleIds(EvaluateSend(d, f)), ElementsAre("consent.recipient_mismatch"));
  // A direct Send has no co-signer to cover.
  SendFacts direct = Facts(kBup, v1::ROLE_PHYSICIAN, 10, ConsentState::kGuardian);
  EXPECT_THAT(RuleIds(EvaluateSend(d, direct)), IsEmpty());
}

// A kindergarten's PPT referral, as `stage` with the signer `role` of
// `signer_agency`.
SendFacts KindergartenPpt(SendStage stage, const std::string& signer_agency, v1::Role role) {
  SendFacts f = Facts(kPpt, role, 5, ConsentState::kGuardian);
  f.stage = stage;
  f.initiating_agency = "bhg-solsikken";
  f.initiating_type = v1::AGENCY_TYPE_KINDERGARTEN;
  f.sender_agency = signer_agency;
  f.sender_type =
      signer_agency == "bhg-solsikken" ? v1::AGENCY_TYPE_KINDERGARTEN : v1::AGENCY_TYPE_SCHOOL;
  f.consent->recording_agency = "bhg-solsikken";
  v1::ConsentRecipient other;
  other.set_agency(signer_agency);
  f.consent->recipients = {f.consent->recipient, other};
  return f;
}

TEST(ReferralPolicyTable, TheHeadSignsPptReferralsOfKindergartensAndSchools) {
  const PolicyRules d;
  struct Row {
    SendStage stage;
    std::string signer_agency;
    v1::Role role;
    Rules want;
  };
  const std::vector<Row> rows = {
      // Sent directly by staff: refused; by the leader: the head signs.
      {SendStage::kSend, "bhg-solsikken", v1::ROLE_STAFF, {"referral.ppt.head_signoff"}},
      {SendStage::kSend, "bhg-solsikken", v1::ROLE_LEADER, {}},
      // Drafted for the own agency: fine; for another agency: refused.
      {SendStage::kDraft, "bhg-solsikken", v1::ROLE_UNSPECIFIED, {}},
      {SendStage::kDraft, "skole-oslo", v1::ROLE_UNSPECIFIED, {"referral.ppt.head_signoff"}},
      // Co-signed by the leader: fine; by anyone else: refused.
      {SendStage::kCosign, "bhg-solsikken", v1::ROLE_LEADER, {}},
      {SendStage::kCosign, "bhg-solsikken", v1::ROLE_STAFF, {"referral.ppt.head_signoff"}},
      {SendStage::kCosign, "bhg-solsikken", v1::ROLE_PHYSICIAN, {"referral.ppt.head_signoff"}},
      {SendStage::kCosign, "skole-oslo", v1::ROLE_LEADER, {"referral.ppt.head_signoff"}},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(RuleIds(EvaluateSend(d, KindergartenPpt(row.stage, row.signer_agency, row.role))),
              row.want)
        << static_cast<int>(row.stage) << " " << row.signer_agency << " "
        << v1::Role_Name(row.role);
  }
  // A school too; a health station's PPT referral needs no head.
  SendFacts school = KindergartenPpt(SendStage::kSend, "bhg-solsikken", v1::ROLE_STAFF);
  school.initiating_type = v1::AGENCY_TYPE_SCHOOL;
  EXPECT_THAT(RuleIds(EvaluateSend(d, school)), ElementsAre("referral.ppt.head_signoff"));
  school.initiating_type = v1::AGENCY_TYPE_HEALTH_STATION;
  EXPECT_THAT(RuleIds(EvaluateSend(d, school)), IsEmpty());
}

TEST(ReferralPolicy, ParentsDemandNeedsGuardianConsentNotTheWorryRoutine) {
  const PolicyRules d;
  SendFacts f = Facts(kPpt, v1::ROLE_LEADER, 5, ConsentState::kGuardian);
  f.parent_conversation.reset();
  f.has_action_log = false;
  f.parent_demand = true;
  EXPECT_THAT(RuleIds(EvaluateSend(d, f)), IsEmpty());
  f.parent_demand = false;
  EXPECT_THAT(RuleIds(EvaluateSend(d, f)),
              ElementsAre("referral.ppt.parent_conversation", "referral.ppt.action_log"));
  // The child's own consent (16+) is not the parents' demand.
  SendFacts child = Facts(kPpt, v1::ROLE_STAFF, 16, ConsentState::kChild);
  child.parent_demand = true;
  EXPECT_THAT(RuleIds(EvaluateSend(d, child)), ElementsAre("referral.ppt.parent_demand"));
  // No consent at all.
  SendFacts none = Facts(kPpt, v1::ROLE_STAFF, 5, ConsentState::kNone);
  none.parent_demand = true;
  EXPECT_THAT(RuleIds(EvaluateSend(d, none)),
              ElementsAre("referral.legal_basis", "referral.ppt.parent_demand"));
  // Only to PPT.
  SendFacts bup = Facts(kBup, v1::ROLE_PHYSICIAN, 5, ConsentState::kGuardian);
  bup.parent_demand = true;
  EXPECT_THAT(RuleIds(EvaluateSend(d, bup)), ElementsAre("referral.ppt.parent_demand"));
}

// --- Urgent routing and the calendar.

absl::TimeZone Oslo() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("Europe/Oslo", &tz)) << "tzdata is required";
  return tz;
}

absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone());
}

Route RouteAt(absl::Time t, bool known_patient, const std::string& acute = "bup-akutt") {
  RouteFacts f;
  f.requested_agency = "bup-oslo";
  f.requested_type = v1::AGENCY_TYPE_BUP;
  f.acute_unit = acute;
  f.urgent = true;
  f.known_patient = known_patient;
  f.now = t;
  f.zone = Oslo();
  return RouteReferral(PolicyRules(), f);
}

TEST(UrgentRouting, KnownPatientGoesToTheClinicInOpeningHoursAcrossDst) {
  struct Row {
    absl::Time t;
    const char* label;
    bool open;
  };
  // 2025-03-24 (Monday, CET = UTC+1) and 2025-03-31 (Monday after the DST
  // change of 2025-03-30, CEST = UTC+2); 2025-03-29 is a Saturday; 2025-10-27
  // is the Monday after DST ends (CET again).
  const std::vector<Row> rows = {
      {Utc(2025, 3, 24, 6, 59), "Mon CET 07:59", false},
      {Utc(2025, 3, 24, 7, 0), "Mon CET 08:00", true},
      {Utc(2025, 3, 24, 14, 30), "Mon CET 15:30", false},
      {Utc(2025, 3, 24, 14, 29), "Mon CET 15:29", true},
      {Utc(2025, 3, 24, 14, 31), "Mon CET 15:31", false},
      {Utc(2025, 3, 31, 5, 59), "Mon CEST 07:59", false},
      {Utc(2025, 3, 31, 6, 0), "Mon CEST 08:00", true},
      {Utc(2025, 3, 31, 13, 30), "Mon CEST 15:30", false},
      {Utc(2025, 3, 31, 13, 31), "Mon CEST 15:31", false},
      {Utc(2025, 3, 31, 13, 29), "Mon CEST 15:29", true},
      {Utc(2025, 3, 31, 7, 0), "Mon CEST 09:00 (10:00 CET would be 08:00 UTC)", true},
      {Utc(2025, 3, 29, 6, 59), "Sat 07:59", false},
      {Utc(2025, 3, 29, 7, 0), "Sat 08:00", false},
      {Utc(2025, 3, 29, 14, 30), "Sat 15:30", false},
      {Utc(2025, 3, 29, 14, 31), "Sat 15:31", false},
      {Utc(2025, 3, 29, 10, 0), "Sat 11:00", false},
      {Utc(2025, 10, 27, 6, 59), "Mon after DST ends 07:59", false},
      {Utc(2025, 10, 27, 7, 0), "Mon after DST ends 08:00", true},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(policy::ClinicOpen(PolicyRules(), row.t, Oslo()), row.open) << row.label;
    const Route known = RouteAt(row.t, /*known_patient=*/true);
    EXPECT_EQ(known.recipient_agency, row.open ? "bup-oslo" : "bup-akutt") << row.label;
    EXPECT_EQ(known.reason,
              row.open ? "urgent.known_patient.clinic_open" : "urgent.known_patient.clinic_closed")
        << row.label;
    // Not a patient: the acute unit, open or not.
    const Route unknown = RouteAt(row.t, /*known_patient=*/false);
    EXPECT_EQ(unknown.recipient_agency, "bup-akutt") << row.label;
    EXPECT_EQ(unknown.reason, "urgent.not_a_patient") << row.label;
  }
}

TEST(UrgentRouting, NotUrgentNoAcuteUnitAndChildWelfare) {
  RouteFacts f;
  f.requested_agency = "bup-oslo";
  f.requested_type = v1::AGENCY_TYPE_BUP;
  f.acute_unit = "bup-akutt";
  f.now = Utc(2025, 3, 29, 10, 0);
  f.zone = Oslo();
  Route r = RouteReferral(PolicyRules(), f);
  EXPECT_EQ(r.recipient_agency, "bup-oslo");
  EXPECT_EQ(r.reason, "");
  const Route none = RouteAt(Utc(2025, 3, 29, 10, 0), false, /*acute=*/"");
  EXPECT_EQ(none.recipient_agency, "bup-oslo");
  EXPECT_EQ(none.reason, "urgent.no_acute_unit");
  f.urgent = true;
  f.requested_agency = "barnevern-oslo";
  f.requested_type = v1::AGENCY_TYPE_CHILD_WELFARE;
  r = RouteReferral(PolicyRules(), f);
  EXPECT_EQ(r.recipient_agency, "barnevern-oslo");
  EXPECT_EQ(r.reason, "urgent.direct");
}

TEST(Calendar, NorwegianPublicHolidaysAreClosed) {
  EXPECT_EQ(policy::EasterSunday(2025), absl::CivilDay(2025, 4, 20));
  EXPECT_EQ(policy::EasterSunday(2026), absl::CivilDay(2026, 4, 5));
  EXPECT_EQ(policy::EasterSunday(2024), absl::CivilDay(2024, 3, 31));
  EXPECT_EQ(policy::EasterSunday(2038), absl::CivilDay(2038, 4, 25));
  for (absl::CivilDay day :
       {absl::CivilDay(2025, 1, 1), absl::CivilDay(2025, 4, 17), absl::CivilDay(2025, 4, 18),
        absl::CivilDay(2025, 4, 20), absl::CivilDay(2025, 4, 21), absl::CivilDay(2025, 5, 1),
        absl::CivilDay(2025, 5, 17), absl::CivilDay(2025, 5, 29), absl::CivilDay(2025, 6, 8),
        absl::CivilDay(2025, 6, 9), absl::CivilDay(2025, 12, 25), absl::CivilDay(2025, 12, 26)}) {
    EXPECT_TRUE(policy::IsNorwegianPublicHoliday(day)) << day;
  }
  for (absl::CivilDay day :
       {absl::CivilDay(2025, 4, 16), absl::CivilDay(2025, 4, 22), absl::CivilDay(2025, 5, 2),
        absl::CivilDay(2025, 12, 24), absl::CivilDay(2025, 12, 31)}) {
    EXPECT_FALSE(policy::IsNorwegianPublicHoliday(day)) << day;
  }
  // Maundy Thursday 2025-04-17 10:00 (CEST): a weekday, but closed.
  EXPECT_FALSE(policy::ClinicOpen(PolicyRules(), Utc(2025, 4, 17, 8, 0), Oslo()));
  EXPECT_EQ(RouteAt(Utc(2025, 4, 17, 8, 0), true).recipient_agency, "bup-akutt");
  // Wednesday before, 10:00: open.
  EXPECT_TRUE(policy::ClinicOpen(PolicyRules(), Utc(2025, 4, 16, 8, 0), Oslo()));
}

TEST(PolicyRules, ConsultationRecipientTypesAreConfigurable) {
  EXPECT_EQ(PolicyRules().consultation_recipients,
            (std::set<v1::AgencyType>{v1::AGENCY_TYPE_PPT, v1::AGENCY_TYPE_HEALTH_STATION,
                                      v1::AGENCY_TYPE_CHILD_WELFARE, v1::AGENCY_TYPE_BUP}));
  EXPECT_EQ(policy::AgencyTypeList(PolicyRules().consultation_recipients),
            "PPT, health station, child welfare or BUP");
  auto parsed = policy::ParseAgencyTypeNames("bup, Health_Station");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed,
            (std::set<v1::AgencyType>{v1::AGENCY_TYPE_HEALTH_STATION, v1::AGENCY_TYPE_BUP}));
  EXPECT_EQ(policy::ParseAgencyTypeNames("bup,nope").status().message(),
            "unknown agency type 'nope'");
  EXPECT_EQ(policy::ParseAgencyTypeNames(" ").status().message(), "no agency type given");
}

}  // namespace
}  // namespace budstikke::referral
