// End to end over mTLS with the real budstikke-server: consent and referral
// flows as the demo identities, the inbox stream, policy refusals, NOT_FOUND
// for a third agency, idempotent Send, streamed attachments, audit events
// queried as the auditor, and a server run with --refuse-synthetic-ids.
#include <grpcpp/grpcpp.h>
#include <openssl/sha.h>

#include <chrono>
#include <functional>
#include <thread>
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
using ::budstikke::testing::GuardianConsentRequest;
using ::budstikke::testing::RuleIds;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::ElementsAre;
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

// Audit events matching `req`, as the auditor; polls until `done` holds for
// them or `timeout` passes (events reach the log within ~2 s).
std::vector<v1::AuditEvent> PollAudit(
    const TestServer& server, const v1::QueryAuditRequest& req,
    const std::function<bool(const std::vector<v1::AuditEvent>&)>& done,
    absl::Duration timeout = absl::Seconds(15)) {
  auto audit = v1::AuditService::NewStub(server.Channel("auditor"));
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<v1::AuditEvent> events;
  while (true) {
    events.clear();
    v1::QueryAuditRequest page = req;
    do {
      v1::QueryAuditResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      grpc::Status s = audit->Query(&ctx, page, &resp);
      EXPECT_TRUE(s.ok()) << s.error_message();
      if (!s.ok()) return events;
      for (const auto& r : resp.records()) events.push_back(r.event());
      page.set_page_token(resp.next_page_token());
    } while (!page.page_token().empty());
    if (done(events) || absl::Now() >= deadline) return events;
    absl::SleepFor(absl::Milliseconds(100));
  }
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
    v1::RecordConsentRequest req = GuardianConsentRequest(subject, recipient, rid);
    req.set_purpose("henvisning til BUP");
    v1::Consent c;
    grpc::Status s = Consent(who)->Record(Ctx().get(), req, &c);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return c;
  }

  static grpc::Status Upload(const std::string& who, const std::string& data,
                             const std::string& rid, v1::AttachmentInfo* info,
                             const std::string& content_type = "application/pdf") {
    auto stub = Referral(who);
    auto ctx = Ctx(60);
    auto writer = stub->UploadAttachment(ctx.get(), info);
    v1::UploadAttachmentRequest m;
    auto* meta = m.mutable_metadata();
    meta->set_request_id(rid);
    meta->set_filename("epikrise.pdf");
    meta->set_content_type(content_type);
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
  const int rc = RunCommand(
      {::budstikke::testing::BinDir() + "/budstikke", "referral", "send", "--to", "bup-oslo",
       "--subject", child, "--consent", consent.id(), "--reason", "Bekymring", "--output", "json"},
      &cli_out, &cli_err, server_->CliEnv("kindergarten-staff"));
  EXPECT_EQ(rc, 3) << cli_err;
  EXPECT_THAT(cli_out, HasSubstr("\"violations\""));
  EXPECT_THAT(cli_out, HasSubstr("referral.bup.sender_role"));
  EXPECT_THAT(cli_out, ::testing::Not(HasSubstr(child)));
}

TEST_F(ReferralE2eTest, StatutoryDutyReportReachesChildWelfare) {
  // Child welfare watches its inbox.
  auto inbox = v1::InboxService::NewStub(server_->Channel("cw-leader"));
  grpc::ClientContext inbox_ctx;
  inbox_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = inbox->Subscribe(&inbox_ctx, v1::SubscribeRequest());

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

  bool seen = false;
  v1::InboxEvent ev;
  while (!seen && stream->Read(&ev)) {
    seen = ev.type() == v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED && ev.resource().id() == sent.id();
  }
  EXPECT_TRUE(seen) << "child welfare's inbox never got REFERRAL_RECEIVED";
  EXPECT_EQ(ev.resource().kind(), v1::RESOURCE_KIND_REFERRAL);
  inbox_ctx.TryCancel();
  stream->Finish();

  v1::GetReferralRequest get;
  get.set_id(sent.id());
  v1::Referral got;
  s = Referral("cw-leader")->Get(Ctx().get(), get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.statutory_duty().justification(), req.statutory_duty().justification());

  // The audit event of the send, as the auditor over gRPC, marks the basis.
  v1::QueryAuditRequest q;
  q.set_subject_national_id(child);
  q.set_action("referral.send");
  auto events =
      PollAudit(*server_, q, [](const std::vector<v1::AuditEvent>& e) { return !e.empty(); });
  ASSERT_EQ(events.size(), 1u);
  const v1::AuditEvent& e = events[0];
  EXPECT_EQ(e.legal_basis(), v1::LEGAL_BASIS_STATUTORY_DUTY);
  EXPECT_EQ(e.outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  EXPECT_EQ(e.resource().kind(), v1::RESOURCE_KIND_REFERRAL);
  EXPECT_EQ(e.resource().id(), sent.id());
  EXPECT_EQ(e.actor().agency(), "bhg-solsikken");
  EXPECT_EQ(e.consent_id(), "");
  EXPECT_EQ(e.request_id(), "e2e-r3");
  EXPECT_THAT(e.SerializeAsString(), ::testing::Not(HasSubstr(child)));
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

  // Disguised executables: an ELF and a Windows (MZ) binary declared as PDF.
  const std::vector<std::pair<std::string, std::string>> executables = {
      {std::string("\177ELF\x02\x01\x01\0", 8), "e2e-elf"},
      {std::string("MZ\x90\0\x03\0\0\0", 8), "e2e-mz"},
  };
  for (const auto& [magic, rid] : executables) {
    v1::AttachmentInfo exe_info;
    s = Upload("gp-physician", magic + std::string(4096, '\0'), rid, &exe_info);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << rid;
    EXPECT_EQ(s.error_message(), "attachment content is an executable; not allowed") << rid;
  }

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
  const std::string want_sha = Sha256(big);  // of the original bytes
  EXPECT_TRUE(Sha256(got) == want_sha) << "downloaded bytes differ from the uploaded ones";
  EXPECT_TRUE(got_info.sha256() == want_sha);
  EXPECT_TRUE(got == big);

  // Nothing of the refused or abandoned uploads was stored: a stored upload
  // commits its audit event in the same batch, so the log holds exactly one
  // attachment.upload per stored attachment, e2e-a3 being the fresh one.
  v1::QueryAuditRequest q;
  q.set_actor_agency("legekontor-sentrum");
  q.set_action("attachment.upload");
  auto has = [](const std::vector<v1::AuditEvent>& events, const std::string& rid) {
    int n = 0;
    for (const auto& e : events) n += e.request_id() == rid;
    return n;
  };
  auto events = PollAudit(*server_, q, [&](const std::vector<v1::AuditEvent>& e) {
    return has(e, "e2e-a1") == 1 && has(e, "e2e-a3") == 1;
  });
  EXPECT_EQ(has(events, "e2e-a1"), 1);
  EXPECT_EQ(has(events, "e2e-a2"), 0);
  EXPECT_EQ(has(events, "e2e-elf"), 0);
  EXPECT_EQ(has(events, "e2e-mz"), 0);
  ASSERT_EQ(has(events, "e2e-a3"), 1);
  for (const auto& e : events) {
    if (e.request_id() == "e2e-a3") {
      EXPECT_EQ(e.resource().id(), fresh.id());
    }
  }
  // The referral lists exactly the one attachment it was sent with.
  v1::GetReferralRequest get;
  get.set_id(sent.id());
  v1::Referral shown;
  s = Referral("gp-physician")->Get(Ctx().get(), get, &shown);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(shown.attachments_size(), 1);
  EXPECT_EQ(shown.attachments(0).id(), info.id());
}

TEST_F(ReferralE2eTest, PurposeMismatchIsRefusedWithTheRule) {
  const std::string child = Child(12, 205);
  v1::Consent consent = RecordConsent("gp-physician", child, "bup-oslo", "e2e-c5");
  v1::SendReferralRequest req;
  req.set_request_id("e2e-r5");
  req.set_recipient_agency("bup-oslo");
  req.set_subject_national_id(child);
  req.set_consent_id(consent.id());
  req.set_purpose("forskning");
  req.set_reason("Bekymring for søvn.");
  v1::Referral out;
  grpc::Status s = Referral("gp-physician")->Send(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(RuleIds(s), ElementsAre("consent.purpose_mismatch"));

  // The CLI's --purpose: the consent's purpose, spelled differently, is fine.
  std::string cli_out, cli_err;
  const int rc =
      RunCommand({::budstikke::testing::BinDir() + "/budstikke", "referral", "send", "--to",
                  "bup-oslo", "--subject", child, "--consent", consent.id(), "--purpose",
                  "HENVISNING  til bup", "--reason", "Bekymring", "--output", "json"},
                 &cli_out, &cli_err, server_->CliEnv("gp-physician"));
  EXPECT_EQ(rc, 0) << cli_err;
  EXPECT_THAT(cli_out, HasSubstr("\"purpose\":\"henvisning til BUP\""));
}

// Uploads that stall (issue 20, defect 7 and the abuse suite): before, two
// idle uploads held the caller's both slots (and two gRPC threads) for as long
// as the client kept the connection. A stream takes its slot when it opens, so
// one beyond the caller's 2 is refused at once, before any message; a stream
// that sends nothing, or its metadata and then nothing, is cancelled after
// --stream-idle-seconds and its slot serves the next upload.
TEST(ReferralE2eUploadIdleTest, StalledUploadsAreCancelledAndFreeTheirSlots) {
  TestServer server({"--stream-idle-seconds", "3"});
  auto stub = v1::ReferralService::NewStub(server.Channel("gp-physician"));
  const std::string data = "%PDF-1.4 liten fil";
  v1::UploadAttachmentRequest meta;
  meta.mutable_metadata()->set_request_id("e2e-idle-1");
  meta.mutable_metadata()->set_filename("notat.pdf");
  meta.mutable_metadata()->set_content_type("application/pdf");
  meta.mutable_metadata()->set_kind(v1::ATTACHMENT_KIND_OTHER);
  meta.mutable_metadata()->set_size(data.size());
  meta.mutable_metadata()->set_sha256(Sha256(data));

  const auto start = std::chrono::steady_clock::now();
  v1::AttachmentInfo ignored[3];
  auto silent_ctx = Ctx(20);
  auto silent = stub->UploadAttachment(silent_ctx.get(), &ignored[0]);  // sends nothing
  auto stalled_ctx = Ctx(20);
  auto stalled = stub->UploadAttachment(stalled_ctx.get(), &ignored[1]);
  ASSERT_TRUE(stalled->Write(meta));  // metadata, then nothing
  absl::SleepFor(absl::Seconds(1));   // both streams have their slots (waited, not timed)

  auto third_ctx = Ctx(20);
  auto third = stub->UploadAttachment(third_ctx.get(), &ignored[2]);
  third->WritesDone();
  grpc::Status s = third->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(s.error_message(), "at most 2 uploads at once per caller; retry in 1 s");
  EXPECT_THAT(RuleIds(s), ElementsAre("attachment.uploads"));

  s = silent->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  s = stalled->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::CANCELLED) << s.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));

  // Their slots are free again: a whole upload goes through. The server frees
  // a slot when the cancelled stream's handler returns, which may be just
  // after the client saw CANCELLED: retry as the refusal says (within 3 s).
  v1::AttachmentInfo info;
  v1::UploadAttachmentRequest chunk;
  chunk.set_chunk(data);
  for (int attempt = 0; attempt < 4; ++attempt) {
    if (attempt > 0) absl::SleepFor(absl::Seconds(1));
    auto ctx = Ctx(20);
    auto writer = stub->UploadAttachment(ctx.get(), &info);
    if (writer->Write(meta)) writer->Write(chunk);  // a refused stream ends at once
    writer->WritesDone();
    s = writer->Finish();
    if (s.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) break;
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(info.size(), data.size());
}

// A second server, run as in production: synthetic ids are refused.
TEST(ReferralE2eSyntheticTest, ServerWithRefuseSyntheticIdsRefusesThemByRule) {
  TestServer strict({"--refuse-synthetic-ids"});
  const std::string child = Child(9, 206);  // synthetic, like every test id
  v1::RecordConsentRequest rec = GuardianConsentRequest(child, "bup-oslo", "e2e-strict-c");
  v1::Consent c;
  grpc::Status s =
      v1::ConsentService::NewStub(strict.Channel("gp-physician"))->Record(Ctx().get(), rec, &c);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(RuleIds(s), ElementsAre("national_id.synthetic_refused"));
  EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr(child)));

  v1::SendReferralRequest req;
  req.set_request_id("e2e-strict-r");
  req.set_recipient_agency("barnevern-oslo");
  req.set_subject_national_id(child);
  req.mutable_statutory_duty()->set_justification(
      "Barnet har fortalt om vold hjemme og har synlige blåmerker.");
  req.set_reason("Bekymringsmelding.");
  v1::Referral out;
  s = v1::ReferralService::NewStub(strict.Channel("kindergarten-staff"))
          ->Send(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(RuleIds(s), ElementsAre("national_id.synthetic_refused"));
}

}  // namespace
}  // namespace budstikke
