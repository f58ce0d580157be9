// Issue 19 end to end over mTLS with the real budstikke-server: a draft
// co-signed by a GP office, the thread with an invited kindergarten, NEED_INFO
// answered by a supplement (acceptance 2); revocation in the middle of a
// thread with every refused read audited (acceptance 3); escalation of an
// unacknowledged urgent referral with the threshold set to seconds
// (acceptance 4).
#include <grpcpp/grpcpp.h>

#include <functional>
#include <map>
#include <vector>

#include "absl/time/clock.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/national_id_testing.h"
#include "tests/support/fixtures.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::Child;
using ::budstikke::testing::RuleIds;
using ::budstikke::testing::TestServer;
using ::testing::ElementsAre;
using ::testing::SizeIs;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

v1::RecipientRef Agency(const std::string& id) {
  v1::RecipientRef r;
  r.set_agency(id);
  return r;
}

class ReferralWorkflowsE2eTest : public ::testing::Test {
 protected:
  // Escalation after 0.05 minutes (3 s); the job runs every second.
  static void SetUpTestSuite() { server_ = new TestServer({"--urgent-ack-minutes", "0.05"}); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static std::unique_ptr<v1::ReferralService::Stub> Ref(const std::string& who) {
    return v1::ReferralService::NewStub(server_->Channel(who));
  }

  // The parents' consent recorded by the health station: the GP office, BUP
  // and any kindergarten.
  static v1::Consent NurseConsent(const std::string& child, const std::string& rid) {
    v1::RecordConsentRequest req;
    req.set_request_id(rid);
    req.set_subject_national_id(child);
    req.set_giver(v1::CONSENT_GIVER_GUARDIAN);
    req.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
    *req.add_recipients() = Agency("legekontor-sentrum");
    *req.add_recipients() = Agency("bup-oslo");
    req.add_recipients()->set_type(v1::AGENCY_TYPE_KINDERGARTEN);
    req.set_purpose("henvisning til BUP");
    req.set_scope("journalnotat og observasjoner");
    req.set_method(v1::CONSENT_METHOD_WRITTEN);
    v1::Consent c;
    grpc::Status s = v1::ConsentService::NewStub(server_->Channel("helsestasjon-staff"))
                         ->Record(Ctx().get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }

  // Draft by the nurse, co-signed by the GP, acknowledged by BUP, the
  // kindergarten invited and answering on the thread.
  static v1::Referral UpToTheKindergartensAnswer(const std::string& child,
                                                 const std::string& consent_id,
                                                 const std::string& rid) {
    v1::SendReferralRequest draft;
    draft.set_request_id(rid);
    draft.set_recipient_agency("bup-oslo");
    draft.set_cosigner_agency("legekontor-sentrum");
    draft.set_subject_national_id(child);
    draft.set_consent_id(consent_id);
    draft.set_reason("Langvarig søvnvansker og uro; foreldrene ber om utredning.");
    v1::Referral d;
    grpc::Status s = Ref("helsestasjon-staff")->Draft(Ctx().get(), draft, &d);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(d.status(), v1::REFERRAL_STATUS_DRAFT);
    v1::CosignReferralRequest cosign;
    cosign.set_id(d.id());
    v1::Referral sent;
    s = Ref("gp-physician")->Cosign(Ctx().get(), cosign, &sent);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::AcknowledgeReferralRequest ack;
    ack.set_id(d.id());
    v1::Referral acked;
    s = Ref("bup-clinician")->Acknowledge(Ctx().get(), ack, &acked);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::InviteToReferralRequest invite;
    invite.set_referral_id(d.id());
    invite.set_agency("bhg-solsikken");
    v1::Referral invited;
    s = Ref("bup-clinician")->Invite(Ctx().get(), invite, &invited);
    EXPECT_TRUE(s.ok()) << s.error_message();
    v1::PostReferralMessageRequest answer;
    answer.set_referral_id(d.id());
    answer.set_text("Hun er urolig i samlingsstund og sovner sjelden i hvilen.");
    v1::ReferralMessage m;
    s = Ref("kindergarten-staff")->PostMessage(Ctx().get(), answer, &m);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return sent;
  }

  static TestServer* server_;
};
TestServer* ReferralWorkflowsE2eTest::server_ = nullptr;

// Acceptance 2.
TEST_F(ReferralWorkflowsE2eTest, NurseDraftsGpCosignsBupInvitesKindergartenGpSupplements) {
  const std::string child = Child(9, 301);
  v1::Consent consent = NurseConsent(child, "wf-c1");
  ASSERT_THAT(consent.recipients(), SizeIs(3));
  v1::Referral sent = UpToTheKindergartensAnswer(child, consent.id(), "wf-d1");
  EXPECT_EQ(sent.status(), v1::REFERRAL_STATUS_SENT);

  // BUP receives it showing both who initiated and who signed.
  v1::GetReferralRequest get;
  get.set_id(sent.id());
  v1::Referral at_bup;
  grpc::Status s = Ref("bup-clinician")->Get(Ctx().get(), get, &at_bup);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(at_bup.initiating_agency(), "helsestasjon-oslo");
  EXPECT_EQ(at_bup.initiated_by().user(), "helsesykepleier1");
  EXPECT_EQ(at_bup.sender_agency(), "legekontor-sentrum");
  EXPECT_EQ(at_bup.sender().user(), "lege1");
  EXPECT_EQ(at_bup.subject_national_id(), child);
  // The kindergarten sees the reason, the subject and the thread.
  v1::Referral at_kg;
  s = Ref("kindergarten-staff")->Get(Ctx().get(), get, &at_kg);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(at_kg.reason(), "Langvarig søvnvansker og uro; foreldrene ber om utredning.");
  EXPECT_EQ(at_kg.subject_national_id(), child);
  v1::GetReferralThreadRequest tget;
  tget.set_referral_id(sent.id());
  v1::ReferralThread thread;
  s = Ref("bup-clinician")->GetThread(Ctx().get(), tget, &thread);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_THAT(thread.messages(), SizeIs(1));
  EXPECT_EQ(thread.messages(0).author().agency(), "bhg-solsikken");

  // NEED_INFO, the GP supplements, BUP accepts.
  v1::DecideReferralRequest need;
  need.set_id(sent.id());
  need.set_decision(v1::REFERRAL_DECISION_NEED_INFO);
  need.set_reason("Trenger somatisk status fra fastlegen.");
  v1::Referral r;
  s = Ref("bup-clinician")->Decide(Ctx().get(), need, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_NEED_INFO);
  v1::SupplementReferralRequest sup;
  sup.set_referral_id(sent.id());
  sup.set_text("Somatisk status normal; hørsel og syn undersøkt.");
  s = Ref("gp-physician")->Supplement(Ctx().get(), sup, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  v1::DecideReferralRequest accept;
  accept.set_id(sent.id());
  accept.set_decision(v1::REFERRAL_DECISION_ACCEPT);
  s = Ref("bup-clinician")->Decide(Ctx().get(), accept, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.status(), v1::REFERRAL_STATUS_ACCEPTED);
  std::vector<v1::ReferralStatus> history;
  for (const auto& h : r.history()) history.push_back(h.status());
  EXPECT_THAT(history, ElementsAre(v1::REFERRAL_STATUS_DRAFT, v1::REFERRAL_STATUS_SENT,
                                   v1::REFERRAL_STATUS_ACKNOWLEDGED,
                                   v1::REFERRAL_STATUS_ACKNOWLEDGED, v1::REFERRAL_STATUS_NEED_INFO,
                                   v1::REFERRAL_STATUS_ACKNOWLEDGED, v1::REFERRAL_STATUS_ACCEPTED));

  // A kindergarten PPT referral without the leader's co-sign is refused.
  v1::RecordConsentRequest ppt_consent;
  ppt_consent.set_request_id("wf-c2");
  ppt_consent.set_subject_national_id(child);
  ppt_consent.set_giver(v1::CONSENT_GIVER_GUARDIAN);
  ppt_consent.set_giver_relation(v1::GUARDIAN_RELATION_FATHER);
  ppt_consent.mutable_recipient()->set_agency("ppt-oslo");
  ppt_consent.set_purpose("sakkyndig vurdering");
  ppt_consent.set_scope("observasjoner");
  ppt_consent.set_method(v1::CONSENT_METHOD_WRITTEN);
  v1::Consent pc;
  s = v1::ConsentService::NewStub(server_->Channel("kindergarten-staff"))
          ->Record(Ctx().get(), ppt_consent, &pc);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::SendReferralRequest ppt;
  ppt.set_request_id("wf-p1");
  ppt.set_recipient_agency("ppt-oslo");
  ppt.set_subject_national_id(child);
  ppt.set_consent_id(pc.id());
  ppt.set_reason("Foreldrene krever sakkyndig vurdering.");
  ppt.set_parent_demand(true);
  ppt.set_parents_informed(true);
  v1::Referral refused;
  s = Ref("kindergarten-staff")->Send(Ctx().get(), ppt, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(RuleIds(s), ElementsAre("referral.ppt.head_signoff"));
  // The leader signs it.
  s = Ref("kindergarten-leader")->Send(Ctx().get(), ppt, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(r.parent_demand());
}

// Acceptance 3.
TEST_F(ReferralWorkflowsE2eTest, RevocationInTheMiddleOfTheThreadStopsEveryRead) {
  const std::string child = Child(7, 302);
  v1::Consent consent = NurseConsent(child, "wf-c3");
  v1::Referral sent = UpToTheKindergartensAnswer(child, consent.id(), "wf-d3");
  v1::RevokeConsentRequest revoke;
  revoke.set_id(consent.id());
  revoke.set_reason("Foreldrene trekker samtykket.");
  v1::Consent revoked;
  grpc::Status s = v1::ConsentService::NewStub(server_->Channel("helsestasjon-staff"))
                       ->Revoke(Ctx().get(), revoke, &revoked);
  ASSERT_TRUE(s.ok()) << s.error_message();

  v1::GetReferralThreadRequest tget;
  tget.set_referral_id(sent.id());
  for (const char* who : {"kindergarten-staff", "bup-clinician"}) {
    v1::ReferralThread thread;
    s = Ref(who)->GetThread(Ctx().get(), tget, &thread);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << who;
    EXPECT_THAT(RuleIds(s), ElementsAre("consent.revoked")) << who;
    EXPECT_THAT(thread.messages(), SizeIs(0));
  }
  v1::PostReferralMessageRequest more;
  more.set_referral_id(sent.id());
  more.set_text("Enda en observasjon.");
  v1::ReferralMessage m;
  s = Ref("kindergarten-staff")->PostMessage(Ctx().get(), more, &m);
  EXPECT_THAT(RuleIds(s), ElementsAre("consent.revoked"));

  // The audit log shows each refused read.
  auto audit = v1::AuditService::NewStub(server_->Channel("auditor"));
  std::map<std::string, int> refused;
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (absl::Now() < deadline) {
    refused.clear();
    v1::QueryAuditRequest q;
    q.set_action("referral.thread.read");
    q.set_outcome(v1::AUDIT_OUTCOME_DENIED);
    q.set_page_size(500);
    v1::QueryAuditResponse resp;
    s = audit->Query(Ctx().get(), q, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    for (const auto& rec : resp.records()) {
      if (rec.event().resource().id() != sent.id()) continue;
      EXPECT_EQ(rec.event().rule(), "consent.revoked");
      ++refused[rec.event().actor().agency()];
    }
    if (refused.size() == 2) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(refused["bhg-solsikken"], 1);
  EXPECT_EQ(refused["bup-oslo"], 1);
}

// Acceptance 4.
TEST_F(ReferralWorkflowsE2eTest, UnacknowledgedUrgentReferralEscalatesOnce) {
  auto inbox = v1::InboxService::NewStub(server_->Channel("bup-acute"));
  grpc::ClientContext inbox_ctx;
  inbox_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream = inbox->Subscribe(&inbox_ctx, v1::SubscribeRequest());

  const std::string child = Child(12, 303);
  v1::RecordConsentRequest creq;
  creq.set_request_id("wf-c4");
  creq.set_subject_national_id(child);
  creq.set_giver(v1::CONSENT_GIVER_GUARDIAN);
  creq.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
  creq.mutable_recipient()->set_agency("bup-oslo");
  creq.set_purpose("akutt henvisning");
  creq.set_scope("journalnotat");
  creq.set_method(v1::CONSENT_METHOD_VERBAL);
  v1::Consent c;
  grpc::Status s =
      v1::ConsentService::NewStub(server_->Channel("gp-physician"))->Record(Ctx().get(), creq, &c);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<v1::Referral> sent(2);
  for (int i = 0; i < 2; ++i) {
    v1::SendReferralRequest req;
    req.set_request_id(absl::StrCat("wf-u", i));
    req.set_recipient_agency("bup-oslo");
    req.set_subject_national_id(child);
    req.set_consent_id(c.id());
    req.set_reason("Akutt selvskading; trenger vurdering i dag.");
    req.set_urgent(true);
    s = Ref("gp-physician")->Send(Ctx().get(), req, &sent[i]);
    ASSERT_TRUE(s.ok()) << s.error_message();
    // Not a patient: the acute unit.
    EXPECT_EQ(sent[i].recipient_agency(), "bup-oslo-akutt");
    EXPECT_EQ(sent[i].requested_recipient(), "bup-oslo");
    EXPECT_EQ(sent[i].routed_reason(), "urgent.not_a_patient");
    EXPECT_EQ(sent[i].priority(), v1::PRIORITY_URGENT);
  }
  v1::AcknowledgeReferralRequest ack;
  ack.set_id(sent[1].id());
  v1::Referral acked;
  s = Ref("bup-acute")->Acknowledge(Ctx().get(), ack, &acked);
  ASSERT_TRUE(s.ok()) << s.error_message();

  // Read the acute unit's inbox for 8 s (threshold 3 s, job every 1 s).
  std::map<std::string, int> escalated;
  int received_urgent = 0;
  const absl::Time until = absl::Now() + absl::Seconds(8);
  v1::InboxEvent ev;
  while (absl::Now() < until && stream->Read(&ev)) {
    if (ev.type() == v1::INBOX_EVENT_TYPE_REFERRAL_ESCALATED) {
      EXPECT_EQ(ev.priority(), v1::PRIORITY_URGENT);
      ++escalated[ev.resource().id()];
    }
    if (ev.type() == v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED) {
      EXPECT_EQ(ev.priority(), v1::PRIORITY_URGENT);
      ++received_urgent;
    }
    if (escalated.count(sent[0].id())) {
      // Wait a few more rounds of the job to see that no second one comes.
      absl::SleepFor(absl::Seconds(3));
      break;
    }
  }
  inbox_ctx.TryCancel();
  while (stream->Read(&ev)) {
    if (ev.type() == v1::INBOX_EVENT_TYPE_REFERRAL_ESCALATED) ++escalated[ev.resource().id()];
  }
  stream->Finish();
  EXPECT_EQ(received_urgent, 2);
  EXPECT_EQ(escalated[sent[0].id()], 1);
  EXPECT_EQ(escalated.count(sent[1].id()), 0u);

  // The sender sees it in the status history.
  v1::GetReferralRequest get;
  get.set_id(sent[0].id());
  v1::Referral r;
  s = Ref("gp-physician")->Get(Ctx().get(), get, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_THAT(r.history(), SizeIs(2));
  EXPECT_EQ(r.history(1).note(), "escalated: not acknowledged within 3s");
}

}  // namespace
}  // namespace budstikke
