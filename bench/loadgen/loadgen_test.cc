// budstikke-loadgen against real processes: the product server (rate limit
// off) and bench/bare_echo_server, on the development certificates. Checks
// what a run reports (the JSON keys, requests counted, no errors), never how
// fast it was.
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace budstikke::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Starts bare_echo_server on the server's certificates; "" if it did not come up.
std::string StartBareEcho(const TestServer& server, std::unique_ptr<Process>* process) {
  const std::string certs = server.cert_dir();
  *process = std::make_unique<Process>(
      std::vector<std::string>{BinDir() + "/bare_echo_server", "--cert", certs + "/server.pem",
                               "--key", certs + "/server.key", "--ca", certs + "/ca.pem"},
      server.dir().Sub("echo.out"), server.dir().Sub("echo.err"));
  const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 1000; ++i) {
    std::smatch m;
    const std::string out = (*process)->ReadStdout();
    if (std::regex_search(out, m, re)) return "localhost:" + m[1].str();
    if ((*process)->Wait(0) != -1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "bare_echo_server did not start: " << (*process)->ReadStderr();
  return "";
}

struct LoadgenRun {
  int exit_code = -1;
  std::string out, err;
};

LoadgenRun Loadgen(const std::string& address, const TestServer& server,
                   std::vector<std::string> more) {
  std::vector<std::string> argv = {BinDir() + "/budstikke-loadgen", "--server", address,
                                   "--certs-dir", server.cert_dir()};
  argv.insert(argv.end(), more.begin(), more.end());
  LoadgenRun run;
  run.exit_code = RunCommand(argv, &run.out, &run.err);
  return run;
}

std::vector<std::string> Keys(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  return keys;
}

class LoadgenTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer({"--rate-limit", "0", "--no-sync-writes"});
    echo_address_ = new std::string(StartBareEcho(*server_, &echo_));
  }
  static void TearDownTestSuite() {
    echo_.reset();
    delete server_;
    delete echo_address_;
  }
  static TestServer* server_;
  static std::unique_ptr<Process> echo_;
  static std::string* echo_address_;
};
TestServer* LoadgenTest::server_ = nullptr;
std::unique_ptr<Process> LoadgenTest::echo_;
std::string* LoadgenTest::echo_address_ = nullptr;

void ExpectFiftyCalls(const LoadgenRun& run, const std::string& scenario) {
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto j = nlohmann::ordered_json::parse(run.out);
  EXPECT_THAT(Keys(j), ElementsAre("scenario", "clients", "rps", "p50_us", "p99_us", "errors",
                                   "requests", "p90_us", "p999_us", "seconds"));
  EXPECT_EQ(j["scenario"], scenario);
  EXPECT_EQ(j["clients"], 2);
  EXPECT_EQ(j["requests"], 50);
  EXPECT_EQ(j["errors"], 0);
  EXPECT_GT(j["rps"].get<double>(), 0);
  EXPECT_LE(j["p50_us"].get<int64_t>(), j["p99_us"].get<int64_t>());
}

TEST_F(LoadgenTest, EchoAgainstBareEchoServer) {
  ASSERT_FALSE(echo_address_->empty());
  ExpectFiftyCalls(
      Loadgen(*echo_address_, *server_,
              {"--scenario", "echo", "--clients", "2", "--requests", "50", "--output", "json"}),
      "echo");
}

TEST_F(LoadgenTest, AskAgainstTheServer) {
  ASSERT_FALSE(server_->address().empty());
  ExpectFiftyCalls(
      Loadgen(server_->address(), *server_,
              {"--scenario", "ask", "--clients", "2", "--requests", "50", "--output", "json"}),
      "ask");
}

TEST_F(LoadgenTest, SendReferralSendsTheTextSizeAndOneAttachmentInTen) {
  ASSERT_FALSE(server_->address().empty());
  ExpectFiftyCalls(
      Loadgen(server_->address(), *server_,
              {"--scenario", "send-referral", "--clients", "2", "--requests", "50", "--output",
               "json", "--text-bytes", "4096", "--attach-every", "10", "--attach-bytes", "70000"}),
      "send-referral");
  // Every referral the GP office sent (the only sender in this suite), read back.
  auto stub = v1::ReferralService::NewStub(server_->Channel("gp-physician"));
  int referrals = 0, with_attachment = 0;
  v1::ListReferralsRequest list;
  list.set_mailbox(v1::MAILBOX_SENT);
  list.set_page_size(100);
  v1::ListReferralsResponse page;
  grpc::ClientContext list_ctx;
  ASSERT_TRUE(stub->List(&list_ctx, list, &page).ok());
  for (const v1::Referral& listed : page.referrals()) {
    v1::GetReferralRequest get;
    get.set_id(listed.id());
    v1::Referral r;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Get(&ctx, get, &r).ok());
    ++referrals;
    EXPECT_EQ(r.reason().size(), 4096u);
    if (r.attachments_size() == 0) continue;
    ++with_attachment;
    EXPECT_EQ(r.attachments(0).size(), 70000u);
    EXPECT_EQ(r.attachments(0).content_type(), "application/pdf");
  }
  EXPECT_EQ(referrals, 50);
  EXPECT_EQ(with_attachment, 5);
}

TEST_F(LoadgenTest, AuditProofAsksForProofsOfStoredLeaves) {
  ASSERT_FALSE(server_->address().empty());
  // A log to prove against: a few consultations, then their checkpoint.
  ASSERT_EQ(
      Loadgen(server_->address(), *server_, {"--scenario", "ask", "--requests", "5"}).exit_code, 0);
  auto audit = v1::AuditService::NewStub(server_->Channel("auditor"));
  uint64_t size = 0;
  for (int i = 0; i < 100 && size < 5; ++i) {
    v1::Checkpoint checkpoint;
    grpc::ClientContext ctx;
    ASSERT_TRUE(audit->GetCheckpoint(&ctx, v1::GetCheckpointRequest(), &checkpoint).ok());
    size = checkpoint.tree_size();
    if (size < 5) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_GE(size, 5u);
  ExpectFiftyCalls(Loadgen(server_->address(), *server_,
                           {"--scenario", "audit-proof", "--clients", "2", "--requests", "50",
                            "--output", "json"}),
                   "audit-proof");
}

TEST_F(LoadgenTest, EchoAgainstTheProductCountsEveryCallAsAnError) {
  // The product does not serve the bench echo: 50 UNIMPLEMENTED, exit 1.
  const LoadgenRun run =
      Loadgen(server_->address(), *server_,
              {"--scenario", "echo", "--clients", "2", "--requests", "50", "--output", "json"});
  EXPECT_EQ(run.exit_code, 1);
  const auto j = nlohmann::ordered_json::parse(run.out);
  EXPECT_EQ(j["requests"], 50);
  EXPECT_EQ(j["errors"], 50);
  EXPECT_THAT(run.err, HasSubstr("50 x code 12 "));
}

TEST_F(LoadgenTest, UnknownScenarioIsRefused) {
  const LoadgenRun run = Loadgen(server_->address(), *server_, {"--scenario", "nope"});
  EXPECT_EQ(run.exit_code, 105);  // CLI11's ValidationError
  EXPECT_THAT(run.err, HasSubstr("--scenario: nope not in {echo,"));
}

}  // namespace
}  // namespace budstikke::testing
