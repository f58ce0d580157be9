// End to end over mTLS with the real budstikke-server: consent and referral
// flows as the demo identities, the inbox stream, policy refusals, NOT_FOUND
// for a third agency, idempotent Send, and streamed attachments.
#include <grpcpp/grpcpp.h>
#include <openssl/sha.h>

#include <thread>

#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/national_id_testing.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

std::string Sha256(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return std::string(reinterpret_cast<const char*>(d), sizeof d);
}

// A child of `age` today (the server uses the wall clock).
std::string Child(int age, int individual) {
  const absl::CivilDay today = absl::ToCivilDay(absl::Now(), absl::UTCTimeZone());
  // Birthday mid-year away from today so that time zones cannot matter.
  absl::CivilDay birth = today - 180;
  return common::testing::MakeSyntheticNationalId(static_cast<int>(birth.year()) - age,
                                                  birth.month(), birth.day(), individual);
}

class ReferralE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::unique_ptr<v1::ConsentService::Stub> Consent(const std::string& who) {
    return v1::ConsentService::NewStub(server_->Channel(who));
  }
  static std::unique_ptr<v1::ReferralService::Stub> Referral(const std::string& who) {
    return v1::ReferralService::NewStub(server_->Channel(who));
  }

  static v1::Consent RecordConsent(const std::string& who, const std::string& subject,
                                   const std::string& recipient, const std::string& rid) {
    v1::RecordConsentRequest req;
    req.set_request_id(rid);
    req.set_subject_national_id(subject);
    req.set_giver(v1::CONSENT_GIVER_GUARDIAN);
    req.set_giver_relation(v1::GUARDIAN_RELATION_MOTHER);
    req.mutable_recipient()->set_agency(recipient);
    req.set_purpose("henvisning til BUP");
    req.set_scope("journalnotat");
    req.set_method(v1::CONSENT_METHOD_WRITTEN);
    v1::Consent c;
    grpc::Status s = Consent(who)->Record(Ctx().get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }

  static grpc::Status Upload(const std::string& who, const std::string& data,
                             const std::string& rid, v1::AttachmentInfo* info) {
    auto stub = Referral(who);
    auto ctx = Ctx(60);
    auto writer = stub->UploadAttachment(ctx.get(), info);
    v1::UploadAttachmentRequest m;
    auto* meta = m.mutable_metadata();
    meta->set_request_id(rid);
    meta->set_filename("epikrise.pdf");
    meta->set_content_type("application/pdf");
    meta->set_kind(v1::ATTACHMENT_KIND_OTHER);
    meta->set_size(data.size());
    meta->set_sha256(Sha256(data));
    bool ok = writer->Write(m);
    for (size_t off = 0; ok && off < data.size(); off += 1 << 20) {
      v1::UploadAttachmentRequest c;
      c.set_chunk(data.substr(off, 1 << 20));
      ok = writer->Write(c);
    }
    writer->WritesDone();
    return writer->Finish();
  }

  static TestServer* server_;
};

TestServer* ReferralE2eTest::server_ = nullptr;

TEST_F(ReferralE2eTest, GpRefersToBupWhichSeesItInItsInboxAcknowledgesAndAccepts) {
  // BUP watches its inbox.
  auto inbox = v1::InboxService::NewStub(server_->Channel("bup-clinician"));
  grpc::ClientContext inbox_ctx;
  inbox_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::SubscribeRequest sub;
  auto stream = inbox->Subscribe(&inbox_ctx, sub);

  const std::string child = Child(10, 201);
  v1::Consent consent = RecordConsent("gp-physician", child, "bup-oslo", "e2e-c1");
  ASSERT_EQ(consent.status(), v1::CONSENT_STATUS_ACTIVE);
  v1::SendReferralRequest req;
  req.set_request_id("e2e-r1");
  req.set_recipient_agency("bup-oslo");
  req.set_subject_national_id(child);
  req.set_consent_id(consent.id());
  req.set_reason("Angst og søvnvansker over tid.");
  req.mutable_bup()->set_referral_question("Utredning av angst");
  v1::Referral sent;
  grpc::Status s = Referral("gp-physician")->Send(Ctx().get(), req, &sent);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sent.status(), v1::REFERRAL_STATUS_SENT);

  bool seen = false;
  v1::InboxEvent ev;
  while (!seen && stream->Read(&ev)) {
    seen = ev.type() == v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED && ev.resource().id() == sent.id();
  }
  EXPECT_TRUE(seen);
  inbox_ctx.TryCancel();
  stream->Finish();

  v1::GetReferralRequest get;
  get.set_id(sent.id());
  v1::Referral got;
  s = Referral("bup-clinician")->Get(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.subject_national_id(), child);
  EXPECT_EQ(got.bup().referral_question(), "Utredning av angst");

  v1::AcknowledgeReferralRequest ack;
  ack.set_id(sent.id());
  v1::Referral acked;
  s = Referral("bup-clinician")->Acknowledge(Ctx().get(), ack, &acked);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(acked.status(), v1::REFERRAL_STATUS_ACKNOWLEDGED);
  v1::DecideReferralRequest decide;
  decide.set_id(sent.id());
  decide.set_decision(v1::REFERRAL_DECISION_ACCEPT);
  v1::Referral accepted;
  s = Referral("bup-clinician2")->Decide(Ctx().get(), decide, &accepted);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(accepted.status(), v1::REFERRAL_STATUS_ACCEPTED);
  EXPECT_EQ(accepted.decided_by().user(), "terapeut2");

  // A third agency: NOT_FOUND, the same as a made-up id.
  v1::Referral none;
  grpc::Status third = Referral("ppt-psychologist")->Get(Ctx().get(), get, &none);
  EXPECT_EQ(third.error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_id("ref-0123456789abcdef0123456789abcdef");
  grpc::Status madeup = Referral("ppt-psychologist")->Get(Ctx().get(), get, &none);
  EXPECT_EQ(madeup.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(third.error_message(), madeup.error_message());

  // Retried Send (lost response): the first result, no duplicate.
  v1::Referral again;
  s = Referral("gp-physician")->Send(Ctx().get(), req, &again);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(again.id(), sent.id());
  v1::ListReferralsRequest list;
  list.set_mailbox(v1::MAILBOX_SENT);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(Referral("gp-physician")->List(Ctx().get(), list, &listed).ok());
  int count = 0;
  for (const auto& r : listed.referrals()) count += r.id() == sent.id();
  EXPECT_EQ(count, 1);
  for (const auto& r : listed.referrals()) EXPECT_EQ(r.subject_national_id(), "");
}

TEST_F(ReferralE2eTest, KindergartenStaffToBupIsRefusedNamingTheRule) {
  const std::string child = Child(4, 202);
  v1::Consent consent = RecordConsent("kindergarten-staff", child, "bup-oslo", "e2e-c2");
  v1::SendReferralRequest req;
  req.set_request_id("e2e-r2");
  req.set_recipient_agency("bup-oslo");
  req.set_subject_national_id(child);
  req.set_consent_id(consent.id());
  req.set_reason("Bekymring for språk og samspill.");
  v1::Referral out;
  grpc::Status s = Referral("kindergarten-staff")->Send(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("referral.bup.sender_role"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(child)));
  EXPECT_FALSE(s.error_details().empty());  // google.rpc.Status with the violations

  // The same through the CLI: exit 3 and the violations as JSON.
  std::string cli_out, cli_err;
  const int rc = RunCommand({::budstikke::testing::BinDir() + "/budstikke", "referral", "send",
                             "--to", "bup-oslo", "--subject", child, "--consent", consent.id(),
                             "--reason", "Bekymring", "--output", "json"},
                            &cli_out, &cli_err, server_->CliEnv("kindergarten-staff"));
  EXPECT_EQ(rc, 3) << cli_err;
  EXPECT_THAT(cli_out, HasSubstr("\"violations\""));
  EXPECT_THAT(cli_out, HasSubstr("referral.bup.sender_role"));
  EXPECT_THAT(cli_out, ::testing::Not(HasSubstr(child)));
}

TEST_F(ReferralE2eTest, StatutoryDutyReportReachesChildWelfare) {
  const std::string child = Child(8, 203);
  v1::SendReferralRequest req;
  req.set_request_id("e2e-r3");
  req.set_recipient_agency("barnevern-oslo");
  req.set_subject_national_id(child);
  req.mutable_statutory_duty()->set_justification(
      "Barnet har fortalt om vold hjemme og har synlige blåmerker.");
  req.set_reason("Bekymringsmelding.");
  v1::Referral sent;
  grpc::Status s = Referral("kindergarten-staff")->Send(Ctx().get(), req, &sent);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sent.legal_basis(), v1::LEGAL_BASIS_STATUTORY_DUTY);
  v1::GetReferralRequest get;
  get.set_id(sent.id());
  v1::Referral got;
  s = Referral("cw-leader")->Get(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.statutory_duty().justification(), req.statutory_duty().justification());
}

TEST_F(ReferralE2eTest, AttachmentRoundTripLimitsAndAbandonedUpload) {
  std::string big(25u << 20, 'z');
  std::memcpy(big.data(), "%PDF-1.7\n", 9);
  v1::AttachmentInfo info;
  grpc::Status s = Upload("gp-physician", big, "e2e-a1", &info);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.size(), big.size());

  v1::AttachmentInfo too_big;
  std::string over(((25u << 20) + 1), 'z');
  std::memcpy(over.data(), "%PDF-1.7\n", 9);
  s = Upload("gp-physician", over, "e2e-a2", &too_big);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("too large"));

  // A client that goes away mid-upload.
  {
    auto stub = Referral("gp-physician");
    grpc::ClientContext ctx;
    v1::AttachmentInfo ignored;
    auto writer = stub->UploadAttachment(&ctx, &ignored);
    v1::UploadAttachmentRequest m;
    m.mutable_metadata()->set_request_id("e2e-a3");
    m.mutable_metadata()->set_filename("halv.pdf");
    m.mutable_metadata()->set_content_type("application/pdf");
    m.mutable_metadata()->set_kind(v1::ATTACHMENT_KIND_OTHER);
    m.mutable_metadata()->set_size(4u << 20);
    m.mutable_metadata()->set_sha256(Sha256(std::string(4u << 20, 'q')));
    ASSERT_TRUE(writer->Write(m));
    v1::UploadAttachmentRequest c;
    c.set_chunk("%PDF-1.4" + std::string((1 << 20) - 8, 'q'));
    writer->Write(c);
    ctx.TryCancel();
    writer->Finish();
  }
  // The same request id starts afresh: nothing of the abandoned upload counts.
  std::string small = "%PDF-1.4 liten fil";
  v1::AttachmentInfo fresh;
  s = Upload("gp-physician", small, "e2e-a3", &fresh);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(fresh.size(), small.size());

  // Send with the big one and download it as the recipient.
  const std::string child = Child(11, 204);
  v1::Consent consent = RecordConsent("gp-physician", child, "bup-oslo", "e2e-c4");
  v1::SendReferralRequest req;
  req.set_request_id("e2e-r4");
  req.set_recipient_agency("bup-oslo");
  req.set_subject_national_id(child);
  req.set_consent_id(consent.id());
  req.set_reason("Se vedlegg.");
  req.add_attachment_ids(info.id());
  v1::Referral sent;
  s = Referral("gp-physician")->Send(Ctx(60).get(), req, &sent);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::DownloadAttachmentRequest dl;
  dl.set_referral_id(sent.id());
  dl.set_attachment_id(info.id());
  auto stub = Referral("bup-clinician");
  auto ctx = Ctx(60);
  auto reader = stub->DownloadAttachment(ctx.get(), dl);
  v1::DownloadAttachmentResponse part;
  std::string got;
  v1::AttachmentInfo got_info;
  while (reader->Read(&part)) {
    if (part.has_info()) got_info = part.info();
    got += part.chunk();
  }
  s = reader->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.size(), big.size());
  EXPECT_EQ(Sha256(got), got_info.sha256());
}

}  // namespace
}  // namespace budstikke
