// Consultations (domain level) with a real Store, Keyring, Envelope, audit
// outbox, Inbox and PII scanner: the flow, visibility, screening, routing,
// idempotency, paging and retention with a FakeClock.
#include "services/consultation/consultation.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/caller_testing.h"
#include "services/common/errors.h"
#include "services/common/fake_audit_outbox.h"
#include "services/common/fake_clock.h"
#include "services/common/national_id_testing.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/time_util.h"
#include "services/inbox/inbox.h"
#include "storage/status_matchers.h"
#include "storage/test_util.h"

namespace budstikke::consultation {
namespace {

using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::SizeIs;

class FakeAgencies final : public common::AgencyLookup {
 public:
  FakeAgencies() {
    Add("bhg-solsikken", v1::AGENCY_TYPE_KINDERGARTEN, "0301");
    Add("legekontor-sentrum", v1::AGENCY_TYPE_GP, "0301");
    Add("bup-oslo", v1::AGENCY_TYPE_BUP, "0301");
    Add("bup-aaa", v1::AGENCY_TYPE_BUP, "4601");
    Add("bup-bbb", v1::AGENCY_TYPE_BUP, "4601");
    Add("ppt-oslo", v1::AGENCY_TYPE_PPT, "0301");
  }
  void Add(const std::string& id, v1::AgencyType type, const std::string& m) {
    v1::Agency a;
    a.set_id(id);
    a.set_type(type);
    a.set_municipality(m);
    agencies_[id] = a;
  }
  absl::StatusOr<v1::Agency> GetAgency(absl::string_view id) const override {
    auto it = agencies_.find(std::string(id));
    if (it == agencies_.end()) return absl::NotFoundError("agency not found");
    return it->second;
  }
  absl::StatusOr<std::vector<v1::Agency>> FindAgencies(
      v1::AgencyType type, absl::string_view municipality) const override {
    std::vector<v1::Agency> out;
    for (const auto& [id, a] : agencies_) {
      if (a.type() == type && a.municipality() == municipality) out.push_back(a);
    }
    return out;
  }

 private:
  std::map<std::string, v1::Agency> agencies_;
};

using common::testing::Person;

const common::Caller kStaff = Person("bhg-solsikken", v1::ROLE_STAFF, "kari");
const common::Caller kClin1 = Person("bup-oslo", v1::ROLE_CLINICIAN, "terapeut1");
const common::Caller kClin2 = Person("bup-oslo", v1::ROLE_CLINICIAN, "terapeut2");
const common::Caller kGp = Person("legekontor-sentrum", v1::ROLE_PHYSICIAN, "lege1");

const absl::Time kStart = absl::FromUnixSeconds(1717200000);  // 2024-06-01

std::vector<std::string> RulesOf(const absl::Status& s) {
  std::vector<std::string> rules;
  auto d = common::GetErrorDetails(s);
  if (d) {
    for (const auto& v : d->violations()) rules.push_back(v.rule());
  }
  return rules;
}

class ConsultationDomainTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    storage::Store::Options o;
    o.column_families = {storage::Keyring::kKeysColumnFamily, common::kAuditOutboxColumnFamily,
                         kColumnFamily, inbox::kColumnFamily};
    store_ = *storage::Store::Open(dir_.Sub("db"), o);
    keyring_ = *storage::Keyring::Create(storage::SecretBytes(std::string(32, 'k')), store_.get());
    envelope_ = *storage::Envelope::Create(keyring_.get());
    audit_ = *common::StoreAuditOutbox::Create(store_.get(), &clock_);
    inbox_ = *inbox::Inbox::Create(store_.get(), &clock_);
    scanner_ = *pii::Scanner::Create(pii::ScannerConfig());
    Consultations::Deps d;
    d.store = store_.get();
    d.keyring = keyring_.get();
    d.envelope = envelope_.get();
    d.audit = audit_.get();
    d.directory = &agencies_;
    d.inbox = inbox_.get();
    d.scanner = scanner_.get();
    d.clock = &clock_;
    c_ = *Consultations::Create(d, Consultations::Options());
  }

  v1::AskConsultationRequest AskReq(const std::string& text, const std::string& rid) {
    v1::AskConsultationRequest r;
    r.set_request_id(rid);
    r.mutable_recipient()->set_agency("bup-oslo");
    r.set_age_band(v1::AGE_BAND_3_5);
    r.add_concerns(v1::CONCERN_SLEEP);
    r.add_concerns(v1::CONCERN_FAMILY_CONFLICT);
    r.set_text(text);
    return r;
  }

  v1::Consultation MustAsk(const std::string& text = "Gutten sover dårlig og er mye lei seg.",
                           const std::string& rid = "") {
    static int n = 0;
    auto r = c_->Ask(kStaff, AskReq(text, rid.empty() ? "req-" + std::to_string(++n) : rid));
    EXPECT_THAT(r.status(), IsOk());
    return r.ok() ? *r : v1::Consultation();
  }

  std::vector<v1::InboxEvent> Events(const std::string& agency) {
    auto e = inbox_->Read(agency, "desk", 0, 1000);
    EXPECT_THAT(e.status(), IsOk());
    return e.ok() ? *e : std::vector<v1::InboxEvent>();
  }

  // Every key of the consultations column family.
  std::vector<std::string> Keys() {
    std::vector<std::string> keys;
    for (auto it = store_->Scan(kColumnFamily, ""); it->Valid(); it->Next()) {
      keys.emplace_back(it->key());
    }
    return keys;
  }

  std::vector<v1::AuditEvent> AuditEvents() {
    std::vector<v1::AuditEvent> out;
    for (auto it = store_->Scan(common::kAuditOutboxColumnFamily, ""); it->Valid(); it->Next()) {
      v1::AuditEvent e;
      e.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()));
      out.push_back(e);
    }
    return out;
  }

  // A second Consultations on the same store with another audit outbox.
  std::unique_ptr<Consultations> WithAudit(common::AuditOutbox* audit) {
    Consultations::Deps d;
    d.store = store_.get();
    d.keyring = keyring_.get();
    d.envelope = envelope_.get();
    d.audit = audit;
    d.directory = &agencies_;
    d.inbox = inbox_.get();
    d.scanner = scanner_.get();
    d.clock = &clock_;
    return *Consultations::Create(d, Consultations::Options());
  }

  storage::testing::TempDir dir_;
  common::FakeClock clock_{kStart};
  FakeAgencies agencies_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<storage::Keyring> keyring_;
  std::unique_ptr<storage::Envelope> envelope_;
  std::unique_ptr<common::StoreAuditOutbox> audit_;
  std::unique_ptr<inbox::Inbox> inbox_;
  std::unique_ptr<pii::Scanner> scanner_;
  std::unique_ptr<Consultations> c_;
};

TEST_F(ConsultationDomainTest, AskClaimAnswerMessageCloseWithInboxEvents) {
  v1::Consultation asked = MustAsk("Gutten sover dårlig og er mye lei seg.");
  EXPECT_EQ(asked.status(), v1::CONSULTATION_STATUS_OPEN);
  EXPECT_EQ(asked.sender_agency(), "bhg-solsikken");
  EXPECT_EQ(asked.recipient_agency(), "bup-oslo");
  EXPECT_EQ(asked.sender().user(), "kari");
  EXPECT_EQ(asked.text(), "Gutten sover dårlig og er mye lei seg.");
  auto bup = Events("bup-oslo");
  ASSERT_THAT(bup, SizeIs(1));
  EXPECT_EQ(bup[0].cursor(), 1u);
  EXPECT_EQ(bup[0].type(), v1::INBOX_EVENT_TYPE_CONSULTATION_RECEIVED);
  EXPECT_EQ(bup[0].resource().id(), asked.id());

  auto got = c_->Get(kClin1, asked.id());
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(got->text(), asked.text());

  auto claimed = c_->Claim(kClin1, asked.id());
  ASSERT_THAT(claimed.status(), IsOk());
  EXPECT_EQ(claimed->status(), v1::CONSULTATION_STATUS_CLAIMED);
  EXPECT_EQ(claimed->claimed_by().user(), "terapeut1");

  v1::AnswerConsultationRequest ans;
  ans.set_request_id("a1");
  ans.set_id(asked.id());
  ans.set_text("Vi anbefaler en samtale med foreldrene om søvnrutiner.");
  auto answered = c_->Answer(kClin1, ans);
  ASSERT_THAT(answered.status(), IsOk());
  EXPECT_EQ(answered->status(), v1::CONSULTATION_STATUS_ANSWERED);
  ASSERT_THAT(answered->messages(), SizeIs(1));
  EXPECT_EQ(answered->messages(0).kind(), v1::CONSULTATION_MESSAGE_KIND_ANSWER);
  auto kg = Events("bhg-solsikken");
  ASSERT_THAT(kg, SizeIs(1));
  EXPECT_EQ(kg[0].type(), v1::INBOX_EVENT_TYPE_CONSULTATION_ANSWERED);

  v1::AddConsultationMessageRequest msg;
  msg.set_request_id("m1");
  msg.set_id(asked.id());
  msg.set_text("Takk, vi tar det opp på neste foreldremøte.");
  auto messaged = c_->AddMessage(kStaff, msg);
  ASSERT_THAT(messaged.status(), IsOk());
  EXPECT_THAT(messaged->messages(), SizeIs(2));
  bup = Events("bup-oslo");
  ASSERT_THAT(bup, SizeIs(2));
  EXPECT_EQ(bup[1].cursor(), 2u);
  EXPECT_EQ(bup[1].type(), v1::INBOX_EVENT_TYPE_CONSULTATION_MESSAGE);

  clock_.Advance(absl::Hours(1));
  auto closed = c_->Close(kStaff, asked.id());
  ASSERT_THAT(closed.status(), IsOk());
  EXPECT_EQ(closed->status(), v1::CONSULTATION_STATUS_CLOSED);
  EXPECT_EQ(common::FromProtoTime(closed->delete_after()),
            kStart + absl::Hours(1) + absl::Hours(24 * 90));
  bup = Events("bup-oslo");
  ASSERT_THAT(bup, SizeIs(3));
  EXPECT_EQ(bup[2].type(), v1::INBOX_EVENT_TYPE_CONSULTATION_CLOSED);

  // Closed: no more messages; Close again returns it unchanged.
  msg.set_request_id("m2");
  EXPECT_THAT(RulesOf(c_->AddMessage(kClin1, msg).status()), ElementsAre(kRuleClosed));
  auto again = c_->Close(kClin1, asked.id());
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->close_time().seconds(), closed->close_time().seconds());

  std::vector<std::string> actions;
  for (const auto& e : AuditEvents()) actions.push_back(e.action());
  EXPECT_THAT(actions,
              ElementsAre("consultation.create", "consultation.read", "consultation.claim",
                          "consultation.answer", "consultation.message", "consultation.close",
                          "consultation.message", "consultation.read"));
  // The refused message is DENIED; Close on a closed one returned content: a read.
  EXPECT_EQ(AuditEvents()[6].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(AuditEvents()[7].outcome(), v1::AUDIT_OUTCOME_ALLOWED);
}

TEST_F(ConsultationDomainTest, SecondClaimerIsRefused) {
  v1::Consultation asked = MustAsk();
  ASSERT_THAT(c_->Claim(kClin1, asked.id()).status(), IsOk());
  absl::Status s = c_->Claim(kClin2, asked.id()).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(RulesOf(s), ElementsAre(kRuleAlreadyClaimed));
  v1::AnswerConsultationRequest ans;
  ans.set_request_id("a");
  ans.set_id(asked.id());
  ans.set_text("Svar.");
  EXPECT_THAT(RulesOf(c_->Answer(kClin2, ans).status()), ElementsAre(kRuleAlreadyClaimed));
  // The claimer claiming again gets it unchanged.
  auto again = c_->Claim(kClin1, asked.id());
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->claimed_by().user(), "terapeut1");
  // Staff of the recipient may not claim; the sender may neither claim nor answer.
  absl::Status staff = c_->Claim(Person("bup-oslo", v1::ROLE_STAFF, "s"), asked.id()).status();
  EXPECT_THAT(staff, StatusIs(absl::StatusCode::kPermissionDenied,
                              ::testing::HasSubstr("claiming needs role clinician")));
  EXPECT_THAT(RulesOf(staff), ElementsAre(kRuleAnswererRole));
  absl::Status sender = c_->Claim(kStaff, asked.id()).status();
  EXPECT_THAT(sender, StatusIs(absl::StatusCode::kPermissionDenied,
                               ::testing::HasSubstr("only a professional of the recipient")));
  EXPECT_THAT(RulesOf(sender), ElementsAre(kRuleRecipientOnly));
  ans.set_request_id("s");
  EXPECT_THAT(RulesOf(c_->Answer(kStaff, ans).status()), ElementsAre(kRuleRecipientOnly));
  ans.set_request_id("a");
  // A second answer is refused; answering an OPEN one claims it.
  ASSERT_THAT(c_->Answer(kClin1, ans).status(), IsOk());
  ans.set_request_id("b");
  EXPECT_THAT(RulesOf(c_->Answer(kClin1, ans).status()), ElementsAre(kRuleAlreadyAnswered));
  v1::Consultation other = MustAsk();
  ans.set_id(other.id());
  ans.set_request_id("c");
  auto direct = c_->Answer(kClin2, ans);
  ASSERT_THAT(direct.status(), IsOk());
  EXPECT_EQ(direct->claimed_by().user(), "terapeut2");
  EXPECT_EQ(direct->status(), v1::CONSULTATION_STATUS_ANSWERED);
}

TEST_F(ConsultationDomainTest, OtherAgencyGetsTheSameNotFoundAsAMadeUpId) {
  v1::Consultation asked = MustAsk();
  const std::string made_up = "0123456789abcdef01234567";
  for (const std::string& id : {asked.id(), made_up}) {
    const std::string want = "consultation not found";
    for (const absl::Status& s :
         {c_->Get(kGp, id).status(), c_->Close(kGp, id).status(),
          c_->Claim(Person("ppt-oslo", v1::ROLE_PSYCHOLOGIST, "p"), id).status()}) {
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, want));
    }
  }
  EXPECT_THAT(c_->Get(kGp, "../m/x").status(), StatusIs(absl::StatusCode::kNotFound, ::testing::_));
}

// Probes of another agency's consultation leave a DENIED event (one per
// probe); a made-up id touches nothing and leaves none.
TEST_F(ConsultationDomainTest, ProbesOfAnotherAgencysConsultationAreAudited) {
  v1::Consultation asked = MustAsk();
  const size_t before = AuditEvents().size();
  const common::Caller ppt = Person("ppt-oslo", v1::ROLE_PSYCHOLOGIST, "p");
  EXPECT_THAT(c_->Get(kGp, asked.id()).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(c_->Claim(ppt, asked.id()).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(c_->Close(kGp, asked.id()).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  v1::AnswerConsultationRequest answer;
  answer.set_request_id("probe-answer");
  answer.set_id(asked.id());
  answer.set_text("Et svar.");
  EXPECT_THAT(c_->Answer(ppt, answer).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(c_->Get(kGp, "0123456789abcdef01234567").status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  std::vector<std::string> probes;
  const auto events = AuditEvents();
  for (size_t i = before; i < events.size(); ++i) {
    const v1::AuditEvent& e = events[i];
    probes.push_back(absl::StrCat(e.action(), " ", v1::AuditOutcome_Name(e.outcome()), " ",
                                  e.rule(), " ", e.actor().agency(), " ",
                                  e.resource().id() == asked.id() ? "asked" : e.resource().id()));
  }
  EXPECT_THAT(probes,
              ::testing::ElementsAre(
                  "consultation.read AUDIT_OUTCOME_DENIED consultation.not_visible "
                  "legekontor-sentrum asked",
                  "consultation.claim AUDIT_OUTCOME_DENIED consultation.not_visible ppt-oslo asked",
                  "consultation.close AUDIT_OUTCOME_DENIED consultation.not_visible "
                  "legekontor-sentrum asked",
                  "consultation.answer AUDIT_OUTCOME_DENIED consultation.not_visible ppt-oslo "
                  "asked"));
}

TEST_F(ConsultationDomainTest, RefusedTextIsNotStoredAndListsEveryFinding) {
  const std::string fnr = common::testing::MakeSyntheticNationalId(2019, 3, 14, 512);
  ASSERT_FALSE(fnr.empty());
  const std::string text = "Barnet med fnr " + fnr + " sover dårlig, ring 22 33 44 55.";
  absl::Status s = c_->Ask(kStaff, AskReq(text, "r1")).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr(fnr)));
  auto details = common::GetErrorDetails(s);
  ASSERT_TRUE(details.has_value());
  ASSERT_THAT(details->violations(), SizeIs(1));
  EXPECT_EQ(details->violations(0).rule(), kRulePiiRefused);
  ASSERT_THAT(details->findings(), SizeIs(2));
  EXPECT_EQ(details->findings(0).kind(), v1::PII_KIND_NATIONAL_ID);
  EXPECT_EQ(details->findings(0).severity(), v1::SEVERITY_REFUSE);
  EXPECT_EQ(details->findings(0).start(), text.find(fnr));
  EXPECT_EQ(details->findings(0).end(), text.find(fnr) + 11);
  EXPECT_EQ(details->findings(1).kind(), v1::PII_KIND_PHONE);
  EXPECT_THAT(Keys(), SizeIs(0));
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), 0u);
  // The refusal is audited (DENIED, with the rule) and carries no text.
  auto events = AuditEvents();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(events[0].rule(), kRulePiiRefused);
  EXPECT_EQ(events[0].SerializeAsString().find(fnr), std::string::npos);

  // A question is screened too.
  auto req = AskReq("Gutten sover dårlig.", "r2");
  req.add_questions("Kan dere ringe meg på 41234567?");
  EXPECT_THAT(RulesOf(c_->Ask(kStaff, req).status()), ElementsAre(kRulePiiRefused));
}

TEST_F(ConsultationDomainTest, WarnFindingsMustBeAcknowledged) {
  const std::string text = "Jenta er født 12.03.2019 og har sluttet å spise i barnehagen.";
  auto check = c_->CheckText(kStaff, text);
  ASSERT_THAT(check.status(), IsOk());
  ASSERT_EQ(check->verdict(), v1::SCREENING_VERDICT_WARN);
  ASSERT_THAT(check->findings(), SizeIs(1));
  EXPECT_EQ(check->findings(0).kind(), v1::PII_KIND_BIRTH_DATE);

  absl::Status s = c_->Ask(kStaff, AskReq(text, "w1")).status();
  EXPECT_THAT(RulesOf(s), ElementsAre(kRulePiiUnacknowledged));
  ASSERT_TRUE(common::GetErrorDetails(s).has_value());
  EXPECT_THAT(common::GetErrorDetails(s)->findings(), SizeIs(1));
  auto req = AskReq(text, "w1");
  req.add_acknowledged_finding_ids(7);  // wrong id
  EXPECT_THAT(RulesOf(c_->Ask(kStaff, req).status()), ElementsAre(kRulePiiUnacknowledged));
  req.add_acknowledged_finding_ids(check->findings(0).id());
  auto ok = c_->Ask(kStaff, req);
  ASSERT_THAT(ok.status(), IsOk());
  EXPECT_EQ(ok->text(), text);
}

TEST_F(ConsultationDomainTest, CheckTextMatchesTheScanner) {
  const std::string text = "Mor sier at Emma bor i Storgata 12 og har e-post a.b@example.no.";
  auto check = c_->CheckText(kStaff, text);
  ASSERT_THAT(check.status(), IsOk());
  auto direct = scanner_->Scan(text);
  ASSERT_EQ(check->findings_size(), static_cast<int>(direct.size()));
  for (size_t i = 0; i < direct.size(); ++i) {
    EXPECT_EQ(check->findings(i).id(), static_cast<uint32_t>(direct[i].id));
    EXPECT_EQ(check->findings(i).start(), direct[i].start);
    EXPECT_EQ(check->findings(i).end(), direct[i].end);
  }
  EXPECT_EQ(check->verdict(), v1::SCREENING_VERDICT_REFUSE);
  EXPECT_THAT(c_->CheckText(kStaff, std::string(100001, 'a')).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST_F(ConsultationDomainTest, RoutingByTypeAndRecipientRules) {
  auto req = AskReq("Gutten sover dårlig.", "t1");
  req.mutable_recipient()->mutable_by_type()->set_type(v1::AGENCY_TYPE_BUP);
  req.mutable_recipient()->mutable_by_type()->set_municipality("4601");
  auto routed = c_->Ask(kStaff, req);
  ASSERT_THAT(routed.status(), IsOk());
  EXPECT_EQ(routed->recipient_agency(), "bup-aaa");  // first by id

  req.set_request_id("t2");
  req.mutable_recipient()->mutable_by_type()->set_municipality("9999");
  EXPECT_THAT(RulesOf(c_->Ask(kStaff, req).status()), ElementsAre(kRuleNoRecipient));
  req.mutable_recipient()->mutable_by_type()->set_type(v1::AGENCY_TYPE_SCHOOL);
  EXPECT_THAT(RulesOf(c_->Ask(kStaff, req).status()), ElementsAre(kRuleRecipientType));
  req.mutable_recipient()->set_agency("legekontor-sentrum");
  EXPECT_THAT(RulesOf(c_->Ask(kStaff, req).status()), ElementsAre(kRuleRecipientType));

  auto bad = AskReq("x", "t3");
  bad.clear_concerns();
  EXPECT_THAT(c_->Ask(kStaff, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("concerns")));
  bad = AskReq("x", "t3");
  bad.set_age_band(v1::AGE_BAND_UNSPECIFIED);
  EXPECT_THAT(c_->Ask(kStaff, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("age_band")));
  bad = AskReq(std::string(10001, 'a'), "t3");
  EXPECT_THAT(c_->Ask(kStaff, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text")));
}

TEST_F(ConsultationDomainTest, RetriedAskReturnsTheFirstResult) {
  v1::Consultation first = MustAsk("Gutten sover dårlig.", "same");
  auto again = c_->Ask(kStaff, AskReq("Gutten sover dårlig.", "same"));
  ASSERT_THAT(again.status(), IsOk());
  EXPECT_EQ(again->id(), first.id());
  EXPECT_EQ(*inbox_->Latest("bup-oslo"), 1u);
  EXPECT_THAT(c_->Ask(kStaff, AskReq("Noe annet.", "same")).status(),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr("request_id 'same' was already used for a different request")));
}

TEST_F(ConsultationDomainTest, ListPagesNewestFirstWithFilters) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(MustAsk().id());
    clock_.Advance(absl::Seconds(1));
  }
  ASSERT_THAT(c_->Claim(kClin1, ids[1]).status(), IsOk());
  std::vector<std::string> seen;
  v1::ListConsultationsRequest req;
  req.set_page_size(2);
  int pages = 0;
  do {
    auto page = c_->List(kClin1, req);
    ASSERT_THAT(page.status(), IsOk());
    for (const auto& c : page->consultations) {
      EXPECT_EQ(c.text(), "");
      seen.push_back(c.id());
    }
    req.set_page_token(page->next_page_token);
    ++pages;
  } while (!req.page_token().empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre(ids[4], ids[3], ids[2], ids[1], ids[0]));

  v1::ListConsultationsRequest sent;
  sent.set_mailbox(v1::MAILBOX_SENT);
  sent.add_statuses(v1::CONSULTATION_STATUS_CLAIMED);
  auto claimed = c_->List(kStaff, sent);
  ASSERT_THAT(claimed.status(), IsOk());
  ASSERT_THAT(claimed->consultations, SizeIs(1));
  EXPECT_EQ(claimed->consultations[0].id(), ids[1]);
  // Another agency's mailbox is empty for it.
  auto gp = c_->List(kGp, v1::ListConsultationsRequest());
  ASSERT_THAT(gp.status(), IsOk());
  EXPECT_THAT(gp->consultations, SizeIs(0));
  v1::ListConsultationsRequest bad;
  bad.set_page_token("garbage!");
  EXPECT_THAT(c_->List(kClin1, bad).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::_));
}

TEST_F(ConsultationDomainTest, RetentionDeletesExactlyTheExpiredClosedOnes) {
  v1::Consultation early = MustAsk();
  v1::Consultation late = MustAsk();
  v1::Consultation open = MustAsk();
  v1::AnswerConsultationRequest ans;
  ans.set_request_id("ans-early");
  ans.set_id(early.id());
  ans.set_text("Svar.");
  ASSERT_THAT(c_->Answer(kClin1, ans).status(), IsOk());
  ASSERT_THAT(c_->Close(kStaff, early.id()).status(), IsOk());
  clock_.Advance(absl::Hours(24));
  ASSERT_THAT(c_->Close(kClin1, late.id()).status(), IsOk());

  clock_.Set(kStart + absl::Hours(24 * 90) - absl::Seconds(1));
  EXPECT_EQ(*c_->RunRetentionOnce(), 0);
  clock_.Set(kStart + absl::Hours(24 * 90));
  EXPECT_EQ(*c_->RunRetentionOnce(), 1);
  EXPECT_THAT(c_->Get(kStaff, early.id()).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  EXPECT_THAT(c_->Get(kStaff, late.id()).status(), IsOk());
  EXPECT_THAT(c_->Get(kStaff, open.id()).status(), IsOk());
  for (const std::string& k : Keys()) EXPECT_EQ(k.find(early.id()), std::string::npos) << k;
  for (const std::string& k : Keys()) EXPECT_EQ(k.find("ans-early"), std::string::npos) << k;

  clock_.Advance(absl::Hours(24 * 365));
  EXPECT_EQ(*c_->RunRetentionOnce(), 1);
  EXPECT_EQ(*c_->RunRetentionOnce(), 0);
  EXPECT_THAT(c_->Get(kStaff, late.id()).status(),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));
  auto still = c_->Get(kStaff, open.id());
  ASSERT_THAT(still.status(), IsOk());
  EXPECT_EQ(still->status(), v1::CONSULTATION_STATUS_OPEN);
  int deletes = 0;
  for (const auto& e : AuditEvents()) {
    if (e.action() == "consultation.delete") {
      ++deletes;
      EXPECT_EQ(e.actor().service(), "consultation");
    }
  }
  EXPECT_EQ(deletes, 2);
  auto listed = c_->List(kStaff, [] {
    v1::ListConsultationsRequest r;
    r.set_mailbox(v1::MAILBOX_SENT);
    return r;
  }());
  ASSERT_THAT(listed.status(), IsOk());
  ASSERT_THAT(listed->consultations, SizeIs(1));
  EXPECT_EQ(listed->consultations[0].id(), open.id());
}

// Retries and no-ops that return content are reads: audited before the
// content is returned, UNAVAILABLE and nothing else when that fails.
TEST_F(ConsultationDomainTest, RetriesAndNoOpsReturningContentAreAuditedFailClosed) {
  common::FakeAuditOutbox fake;
  auto c = WithAudit(&fake);
  auto asked = c->Ask(kStaff, AskReq("Gutten sover dårlig og er mye lei seg.", "rq-ask"));
  ASSERT_THAT(asked.status(), IsOk());
  ASSERT_THAT(c->Claim(kClin1, asked->id()).status(), IsOk());
  v1::AddConsultationMessageRequest msg;
  msg.set_request_id("rq-msg");
  msg.set_id(asked->id());
  msg.set_text("Takk, vi ser på det.");
  ASSERT_THAT(c->AddMessage(kStaff, msg).status(), IsOk());

  fake.Clear();
  fake.SetFailing(true);
  EXPECT_THAT(
      c->Ask(kStaff, AskReq("Gutten sover dårlig og er mye lei seg.", "rq-ask")).status(),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));
  EXPECT_THAT(
      c->Claim(kClin1, asked->id()).status(),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));
  EXPECT_THAT(
      c->AddMessage(kStaff, msg).status(),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));

  fake.SetFailing(false);
  auto ask_again = c->Ask(kStaff, AskReq("Gutten sover dårlig og er mye lei seg.", "rq-ask"));
  ASSERT_THAT(ask_again.status(), IsOk());
  EXPECT_EQ(ask_again->id(), asked->id());
  EXPECT_EQ(ask_again->text(), "Gutten sover dårlig og er mye lei seg.");
  auto claim_again = c->Claim(kClin1, asked->id());
  ASSERT_THAT(claim_again.status(), IsOk());
  EXPECT_EQ(claim_again->claimed_by().user(), "terapeut1");
  auto msg_again = c->AddMessage(kStaff, msg);
  ASSERT_THAT(msg_again.status(), IsOk());
  ASSERT_THAT(msg_again->messages(), SizeIs(1));
  EXPECT_EQ(msg_again->messages(0).text(), "Takk, vi ser på det.");
  std::vector<v1::AuditEvent> events = fake.events();
  ASSERT_THAT(events, SizeIs(3));
  for (const auto& e : events) {
    EXPECT_EQ(e.action(), "consultation.read");
    EXPECT_EQ(e.resource().id(), asked->id());
    EXPECT_EQ(e.outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  }
  EXPECT_EQ(events[0].request_id(), "rq-ask");
  EXPECT_EQ(events[0].actor().agency(), "bhg-solsikken");
  EXPECT_EQ(events[1].request_id(), "");
  EXPECT_EQ(events[1].actor().user(), "terapeut1");
  EXPECT_EQ(events[2].request_id(), "rq-msg");

  ASSERT_THAT(c->Close(kStaff, asked->id()).status(), IsOk());
  fake.Clear();
  fake.SetFailing(true);
  EXPECT_THAT(
      c->Close(kStaff, asked->id()).status(),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));
  fake.SetFailing(false);
  auto closed_again = c->Close(kStaff, asked->id());
  ASSERT_THAT(closed_again.status(), IsOk());
  EXPECT_EQ(closed_again->status(), v1::CONSULTATION_STATUS_CLOSED);
  EXPECT_EQ(closed_again->text(), "Gutten sover dårlig og er mye lei seg.");
  events = fake.events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].action(), "consultation.read");
  EXPECT_EQ(events[0].resource().id(), asked->id());
}

// A refusal whose DENIED event cannot be recorded is UNAVAILABLE.
TEST_F(ConsultationDomainTest, RefusalThatCannotBeAuditedIsUnavailable) {
  common::FakeAuditOutbox fake;
  auto c = WithAudit(&fake);
  v1::AskConsultationRequest req = AskReq("Gutten sover dårlig.", "rq-gp");
  req.mutable_recipient()->set_agency("legekontor-sentrum");
  fake.SetFailing(true);
  EXPECT_THAT(
      c->Ask(kStaff, req).status(),
      StatusIs(absl::StatusCode::kUnavailable, Eq("audit log unavailable: injected failure")));
  EXPECT_THAT(fake.events(), SizeIs(0));
  fake.SetFailing(false);
  absl::Status refused = c->Ask(kStaff, req).status();
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("BUP")));
  EXPECT_THAT(RulesOf(refused), ElementsAre(kRuleRecipientType));
  std::vector<v1::AuditEvent> events = fake.events();
  ASSERT_THAT(events, SizeIs(1));
  EXPECT_EQ(events[0].action(), "consultation.create");
  EXPECT_EQ(events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(events[0].rule(), kRuleRecipientType);
  EXPECT_EQ(events[0].request_id(), "rq-gp");
}

}  // namespace
}  // namespace budstikke::consultation
