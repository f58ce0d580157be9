// Consultations over real mTLS with the real budstikke-server: CheckText on the
// wire equals the local scanner, a refused text is found nowhere (data dir and
// server output), the kindergarten -> BUP flow with inbox streams, claim
// races, and NOT_FOUND for agencies that are not party to a consultation.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "budstikke/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/common/national_id_testing.h"
#include "services/common/pii/scanner.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

std::unique_ptr<Client> ClientAs(const TestServer& server, const std::string& name) {
  ClientOptions o;
  o.server = server.address();
  o.ca_file = server.cert_dir() + "/ca.pem";
  o.cert_file = server.cert_dir() + "/" + name + ".pem";
  o.key_file = server.cert_dir() + "/" + name + ".key";
  auto c = Client::Connect(o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

v1::AskConsultationRequest AskReq(const std::string& text) {
  v1::AskConsultationRequest r;
  r.set_request_id(NewRequestId());
  r.mutable_recipient()->set_agency("bup-oslo");
  r.set_age_band(v1::AGE_BAND_3_5);
  r.add_concerns(v1::CONCERN_BEHAVIOUR);
  r.set_text(text);
  return r;
}

std::vector<std::string> Rules(const absl::Status& s) {
  std::vector<std::string> out;
  if (auto d = ErrorDetailsOf(s)) {
    for (const auto& v : d->violations()) out.push_back(v.rule());
  }
  return out;
}

// Collects an agency's inbox events on a background thread.
class Watcher {
 public:
  explicit Watcher(std::unique_ptr<Client> client) : client_(std::move(client)) {
    thread_ = std::thread([this] {
      (void)client_->SubscribeInbox(
          0,
          [this](const v1::InboxEvent& e) {
            std::lock_guard<std::mutex> lock(mu_);
            events_.push_back(e);
            return true;
          },
          &ctx_);
    });
  }
  ~Watcher() {
    ctx_.TryCancel();
    thread_.join();
  }
  // Waits up to 10 s for an event of `type` about `id`.
  bool WaitFor(v1::InboxEventType type, const std::string& id) {
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& e : events_) {
          if (e.type() == type && e.resource().id() == id) return true;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::unique_ptr<Client> client_;
  grpc::ClientContext ctx_;
  std::mutex mu_;
  std::vector<v1::InboxEvent> events_;
  std::thread thread_;
};

class ConsultationIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static TestServer* server_;
};

TestServer* ConsultationIntegrationTest::server_ = nullptr;

TEST_F(ConsultationIntegrationTest, CheckTextOverTheWireEqualsTheScanner) {
  auto scanner = pii::Scanner::Create(pii::ScannerConfig());
  ASSERT_TRUE(scanner.ok());
  auto client = ClientAs(*server_, "kindergarten-staff");
  const std::string fnr = common::testing::MakeSyntheticNationalId(2018, 11, 2, 530);
  const std::vector<std::string> texts = {
      "Gutten (4 år) har vært mye lei seg etter at foreldrene gikk fra hverandre.",
      "Mor, Kari Nordmann, ringte fra 912 34 567 i går.",
      "Jenta er født 03.04.2019 og bor i Storgata 12, 0155 Oslo.",
      "Fnr " + fnr + " og e-post far@example.no.",
      "Æøå — ingen funn her, bare tekst med ulike tegn: ÆØÅ æøå é ü.",
  };
  for (const std::string& text : texts) {
    auto wire = client->CheckText(text);
    ASSERT_TRUE(wire.ok()) << wire.status();
    auto local = (*scanner)->Scan(text);
    ASSERT_EQ(wire->findings_size(), static_cast<int>(local.size())) << text;
    for (size_t i = 0; i < local.size(); ++i) {
      const auto& f = wire->findings(static_cast<int>(i));
      EXPECT_EQ(f.id(), static_cast<uint32_t>(local[i].id));
      EXPECT_EQ(pii::FindingKindName(local[i].kind),
                v1::PiiKind_Name(f.kind()).substr(std::string("PII_KIND_").size()));
      EXPECT_EQ(f.start(), local[i].start);
      EXPECT_EQ(f.end(), local[i].end);
    }
    EXPECT_EQ(pii::VerdictName(pii::VerdictOf(local)),
              v1::ScreeningVerdict_Name(wire->verdict())
                  .substr(std::string("SCREENING_VERDICT_").size()));
  }
  // auditor and admin may not use it (authorization table).
  EXPECT_EQ(ClientAs(*server_, "auditor")->CheckText("x").status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(ConsultationIntegrationTest, KindergartenToBupFlowWithInboxStreams) {
  auto kg = ClientAs(*server_, "kindergarten-staff");
  auto clin1 = ClientAs(*server_, "bup-clinician");
  auto clin2 = ClientAs(*server_, "bup-clinician2");
  auto gp = ClientAs(*server_, "gp-physician");
  Watcher bup_inbox(ClientAs(*server_, "bup-clinician"));
  Watcher kg_inbox(ClientAs(*server_, "kindergarten-staff"));

  auto asked = kg->AskConsultation(AskReq("Gutten på 4 år slår andre barn og sover dårlig."));
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->status(), v1::CONSULTATION_STATUS_OPEN);
  const std::string id = asked->id();
  ASSERT_TRUE(bup_inbox.WaitFor(v1::INBOX_EVENT_TYPE_CONSULTATION_RECEIVED, id));

  auto shown = clin1->GetConsultation(id);
  ASSERT_TRUE(shown.ok()) << shown.status();
  EXPECT_EQ(shown->text(), "Gutten på 4 år slår andre barn og sover dårlig.");

  auto claimed = clin1->ClaimConsultation(id);
  ASSERT_TRUE(claimed.ok()) << claimed.status();
  EXPECT_EQ(claimed->status(), v1::CONSULTATION_STATUS_CLAIMED);
  auto second = clin2->ClaimConsultation(id);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(Rules(second.status()), ::testing::ElementsAre("consultation.already_claimed"));

  v1::AnswerConsultationRequest ans;
  ans.set_request_id(NewRequestId());
  ans.set_id(id);
  ans.set_text("Kartlegg søvn og situasjoner med konflikt; ta gjerne kontakt igjen.");
  auto answered = clin1->AnswerConsultation(ans);
  ASSERT_TRUE(answered.ok()) << answered.status();
  EXPECT_EQ(answered->status(), v1::CONSULTATION_STATUS_ANSWERED);
  ASSERT_TRUE(kg_inbox.WaitFor(v1::INBOX_EVENT_TYPE_CONSULTATION_ANSWERED, id));
  auto seen = kg->GetConsultation(id);
  ASSERT_TRUE(seen.ok());
  ASSERT_EQ(seen->messages_size(), 1);
  EXPECT_EQ(seen->messages(0).text(), ans.text());

  // Not a party: NOT_FOUND, the same message as for a made-up id.
  auto foreign = gp->GetConsultation(id);
  auto made_up = gp->GetConsultation("0123456789abcdef01234567");
  EXPECT_EQ(foreign.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(made_up.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(foreign.status().message()), "consultation not found");
  EXPECT_EQ(std::string(made_up.status().message()), "consultation not found");
  EXPECT_EQ(ClientAs(*server_, "ppt-psychologist")->ClaimConsultation(id).status().code(),
            absl::StatusCode::kNotFound);
  // Staff of BUP is refused by the authorization table.
  EXPECT_EQ(kg->ClaimConsultation(id).status().code(), absl::StatusCode::kPermissionDenied);

  auto closed = kg->CloseConsultation(id);
  ASSERT_TRUE(closed.ok()) << closed.status();
  EXPECT_EQ(closed->status(), v1::CONSULTATION_STATUS_CLOSED);
  ASSERT_TRUE(bup_inbox.WaitFor(v1::INBOX_EVENT_TYPE_CONSULTATION_CLOSED, id));

  v1::ListConsultationsRequest list;
  list.set_mailbox(v1::MAILBOX_SENT);
  auto sent = kg->ListConsultations(list);
  ASSERT_TRUE(sent.ok());
  bool found = false;
  for (const auto& c : sent->consultations()) {
    if (c.id() == id) {
      found = true;
      EXPECT_EQ(c.text(), "");
      EXPECT_EQ(c.status(), v1::CONSULTATION_STATUS_CLOSED);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ConsultationIntegrationTest, CliCheckTextAndConsultCommands) {
  const std::string cli = testing::BinDir() + "/budstikke";
  std::string out, err;
  int rc = RunCommand(
      {"/bin/sh", "-c", "printf 'Ring mor på 912 34 567.' | \"$0\" check-text --output json", cli},
      &out, &err, server_->CliEnv("kindergarten-staff"));
  ASSERT_EQ(rc, 0) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["verdict"], "REFUSE");
  ASSERT_EQ(j["findings"].size(), 1u);
  EXPECT_EQ(j["findings"][0]["id"], 0);
  EXPECT_EQ(j["findings"][0]["kind"], "PHONE");
  EXPECT_EQ(j["findings"][0]["severity"], "REFUSE");
  EXPECT_EQ(j["findings"][0]["start"], 13);
  EXPECT_EQ(j["findings"][0]["end"], 23);

  rc = RunCommand({cli, "consult", "ask", "--to-type", "bup", "--municipality", "0301",
                   "--age-band", "6-9", "--concern", "sleep", "--concern", "social", "--text",
                   "Jenta trekker seg unna venner.", "--output", "json"},
                  &out, &err, server_->CliEnv("kindergarten-staff"));
  ASSERT_EQ(rc, 0) << err;
  auto asked = nlohmann::json::parse(out);
  EXPECT_EQ(asked["status"], "OPEN");
  EXPECT_EQ(asked["age_band"], "6-9");
  EXPECT_EQ(asked["recipient_agency"], "bup-oslo");
  const std::string id = asked["id"];

  rc = RunCommand({cli, "consult", "ask", "--to", "bup-oslo", "--age-band", "6-9", "--concern",
                   "sleep", "--text", "Ring 912 34 567.", "--output", "json"},
                  &out, &err, server_->CliEnv("kindergarten-staff"));
  EXPECT_EQ(rc, 3);
  auto refused = nlohmann::json::parse(out);
  EXPECT_EQ(refused["error"]["code"], "FAILED_PRECONDITION");
  EXPECT_EQ(refused["error"]["violations"][0]["rule"], "consultation.pii.refused");
  EXPECT_THAT(out + err, ::testing::Not(HasSubstr("912 34 567")));

  rc = RunCommand({cli, "consult", "claim", id, "--output", "json"}, &out, &err,
                  server_->CliEnv("bup-clinician"));
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["status"], "CLAIMED");
  rc = RunCommand(
      {cli, "consult", "answer", id, "--text", "Vi foreslår et møte.", "--output", "json"}, &out,
      &err, server_->CliEnv("bup-clinician"));
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["status"], "ANSWERED");
  rc = RunCommand({cli, "consult", "list", "--sent", "--output", "json"}, &out, &err,
                  server_->CliEnv("kindergarten-staff"));
  ASSERT_EQ(rc, 0) << err;
  auto listed = nlohmann::json::parse(out);
  ASSERT_TRUE(listed.contains("items"));
  EXPECT_EQ(listed["items"][0]["id"], id);
  rc = RunCommand({cli, "consult", "show", id}, &out, &err, server_->CliEnv("gp-physician"));
  EXPECT_EQ(rc, 4);
  rc = RunCommand({cli, "consult", "close", id, "--output", "json"}, &out, &err,
                  server_->CliEnv("kindergarten-staff"));
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(nlohmann::json::parse(out)["status"], "CLOSED");
}

// Own server: it is stopped to search its files.
TEST(ConsultationCanaryTest, RefusedTextIsFoundNowhere) {
  TestServer server;
  const std::string fnr = common::testing::MakeSyntheticNationalId(2017, 8, 21, 611);
  ASSERT_FALSE(fnr.empty());
  // Letters only: random digits could form a phone number (a second finding).
  std::string canary = "KANARI-" + NewRequestId().substr(4);
  for (char& c : canary) {
    if (c >= '0' && c <= '9') c = static_cast<char>('g' + (c - '0'));
  }
  const std::string text = "Bekymring " + canary + " for barnet med fnr " + fnr + ".";
  auto kg = ClientAs(server, "kindergarten-staff");
  // Something legitimate stored too, so the data dir is not trivially empty.
  ASSERT_TRUE(kg->AskConsultation(AskReq("Gutten sover dårlig.")).ok());
  auto refused = kg->AskConsultation(AskReq(text));
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  auto details = ErrorDetailsOf(refused.status());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->violations(0).rule(), "consultation.pii.refused");
  ASSERT_EQ(details->findings_size(), 1);
  EXPECT_EQ(details->findings(0).kind(), v1::PII_KIND_NATIONAL_ID);
  EXPECT_EQ(details->findings(0).start(), text.find(fnr));
  EXPECT_EQ(details->findings(0).end(), text.find(fnr) + fnr.size());
  EXPECT_THAT(std::string(refused.status().message()), ::testing::Not(HasSubstr(canary)));
  // An AddMessage with the canary is refused too.
  v1::AddConsultationMessageRequest msg;
  msg.set_request_id(NewRequestId());
  msg.set_id(kg->AskConsultation(AskReq("Jenta spiser lite.")).value().id());
  msg.set_text(text);
  EXPECT_EQ(kg->AddConsultationMessage(msg).status().code(), absl::StatusCode::kFailedPrecondition);

  server.Stop();
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(server.data_dir())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(canary), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(fnr), std::string::npos) << entry.path();
  }
  EXPECT_GT(files, 3);
  const std::string output = server.process()->ReadStdout() + server.process()->ReadStderr();
  EXPECT_EQ(output.find(canary), std::string::npos);
  EXPECT_EQ(output.find(fnr), std::string::npos);
}

}  // namespace
}  // namespace budstikke
