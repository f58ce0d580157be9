// The budstikke CLI's exit-code contract and its clear, fast errors for the
// usual mistakes (no certificate, wrong CA, server down), against the real
// server binary.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new TestServer(); }
  static void TearDownTestSuite() { delete server_; }

  // Runs the CLI as `who` (or with `env` if given); returns the exit code.
  int Cli(const std::string& who, std::vector<std::string> args,
          std::vector<std::string> env = {}) {
    args.insert(args.begin(), BinDir() + "/budstikke");
    if (env.empty()) env = server_->CliEnv(who);
    auto start = std::chrono::steady_clock::now();
    int rc = RunCommand(args, &out_, &err_, env);
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return rc;
  }

  std::vector<std::string> EnvWithout(const std::string& var) {
    std::vector<std::string> env;
    for (const auto& e : server_->CliEnv("kindergarten-staff")) {
      if (e.rfind(var + "=", 0) != 0) env.push_back(e);
    }
    return env;
  }

  static TestServer* server_;
  std::string out_, err_;
  double seconds_ = 0;
};

TestServer* CliTest::server_ = nullptr;

TEST_F(CliTest, Ok) {
  EXPECT_EQ(Cli("kindergarten-staff", {"whoami", "--output", "json"}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("\"agency\":\"bhg-solsikken\""));
  // Global flags also work before the subcommand.
  EXPECT_EQ(Cli("kindergarten-staff", {"--output", "json", "whoami"}), 0) << err_;
  EXPECT_THAT(out_, HasSubstr("\"role\":\"STAFF\""));
}

TEST_F(CliTest, UsageErrorsExit2WithOneLine) {
  EXPECT_EQ(Cli("kindergarten-staff", {"whoami", "--colour"}), 2);
  EXPECT_THAT(err_, HasSubstr("budstikke: usage:"));
  EXPECT_EQ(std::count(err_.begin(), err_.end(), '\n'), 1) << err_;
  EXPECT_EQ(Cli("kindergarten-staff", {}), 2);
  EXPECT_EQ(Cli("kindergarten-staff", {"directory", "list", "--type", "zoo"}), 2);
  EXPECT_THAT(err_, HasSubstr("--type must be"));
}

TEST_F(CliTest, PolicyRefusalExit3WithRuleInJson) {
  EXPECT_EQ(Cli("kindergarten-staff", {"consult", "ask", "--to-type", "bup", "--municipality",
                                       "0301", "--age-band", "3-5", "--concern", "sleep", "--text",
                                       "Ring mor på 912 34 567.", "--output", "json"}),
            3);
  EXPECT_THAT(out_, HasSubstr("\"code\":\"FAILED_PRECONDITION\""));
  EXPECT_THAT(out_, HasSubstr("\"rule\":\"consultation.pii.refused\""));
  EXPECT_THAT(out_, HasSubstr("\"kind\":\"PHONE\""));
  EXPECT_THAT(out_, ::testing::Not(HasSubstr("912 34 567")));
}

TEST_F(CliTest, NotFoundAndPermissionExit4) {
  EXPECT_EQ(Cli("kindergarten-staff", {"directory", "get", "no-such-agency"}), 4);
  EXPECT_THAT(err_, HasSubstr("NOT_FOUND"));
  EXPECT_EQ(Cli("kindergarten-staff", {"directory", "create", "--id", "x-y", "--name", "X",
                                       "--type", "bup", "--municipality", "0301"}),
            4);
  EXPECT_THAT(err_, HasSubstr("PERMISSION_DENIED"));
}

TEST_F(CliTest, DirectoryUpdateChangesOnlyTheFieldsGiven) {
  EXPECT_EQ(Cli("admin", {"directory", "update", "--id", "bup-oslo", "--acute-unit",
                          "bup-oslo-akutt", "--output", "json"}),
            0)
      << err_;
  EXPECT_THAT(out_, HasSubstr("\"acute_unit\":\"bup-oslo-akutt\""));
  EXPECT_THAT(out_, HasSubstr("\"name\":\"BUP Oslo\""));  // not given: stays
  EXPECT_THAT(out_, HasSubstr("\"type\":\"BUP\""));
  // The acute unit decides routing: not the agency's own admin.
  EXPECT_EQ(Cli("bup-admin", {"directory", "update", "--id", "bup-oslo", "--acute-unit", ""}), 4);
  EXPECT_THAT(err_, HasSubstr("PERMISSION_DENIED"));
  EXPECT_EQ(Cli("admin", {"directory", "update", "--id", "bup-oslo"}), 2);
  EXPECT_THAT(err_, HasSubstr("give at least one of --name, --type, --municipality, --acute-unit"));
}

TEST_F(CliTest, ReferralDraftTakesEverySendFlagPlusCosigner) {
  EXPECT_EQ(Cli("kindergarten-staff", {"referral", "draft", "--help"}), 0);
  for (const char* flag :
       {"--to", "--subject", "--consent", "--reason", "--urgent", "--known-patient",
        "--parent-demand", "--parents-informed", "--parent-conversation", "--action-log",
        "--attach", "--statutory-duty", "--justification", "--cosigner"}) {
    EXPECT_THAT(out_, HasSubstr(flag)) << flag;
  }
  // The co-signer is required for a draft.
  EXPECT_EQ(Cli("kindergarten-staff", {"referral", "draft", "--to", "bup-oslo", "--subject",
                                       "01518012345", "--reason", "x"}),
            2);
  EXPECT_THAT(err_, HasSubstr("--cosigner"));
}

TEST_F(CliTest, NoCertificateConfiguredIsClearAndImmediate) {
  EXPECT_EQ(Cli("", {"whoami"}, EnvWithout("BUDSTIKKE_CERT")), 4);
  EXPECT_THAT(err_, HasSubstr("no client certificate configured: set BUDSTIKKE_CERT or --cert"));
  EXPECT_LT(seconds_, 5.0);
}

TEST_F(CliTest, WrongCaFailsWithin5SecondsWithHint) {
  // The client trusts another CA than the one that signed the server's cert.
  std::string rogue = server_->dir().Sub("cli-rogue");
  ASSERT_EQ(
      RunCommand({"/bin/bash", testing::SourceDir() + "/certs/mint-cert.sh", "make-ca", rogue}), 0);
  std::vector<std::string> env = EnvWithout("BUDSTIKKE_CA");
  env.push_back("BUDSTIKKE_CA=" + rogue + "/ca.pem");
  EXPECT_EQ(Cli("", {"whoami"}, env), 5);
  EXPECT_THAT(err_, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(err_, HasSubstr("BUDSTIKKE_CA"));
  EXPECT_LT(seconds_, 5.0);
}

TEST_F(CliTest, ServerDownFailsWithin5SecondsWithHint) {
  std::vector<std::string> env = EnvWithout("BUDSTIKKE_SERVER");
  env.push_back("BUDSTIKKE_SERVER=localhost:1");
  EXPECT_EQ(Cli("", {"whoami"}, env), 5);
  EXPECT_THAT(err_, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(err_, HasSubstr("is the server running"));
  EXPECT_LT(seconds_, 5.0);
}

// A loopback listener that completes TCP connections (the kernel does that
// from the backlog) but never accepts them, so no TLS handshake ever happens.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(fd_, 16) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on loopback";
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(CliTest, ServerThatNeverSpeaksTlsFailsWithin5SecondsExit5) {
  SilentListener silent;
  std::vector<std::string> env = EnvWithout("BUDSTIKKE_SERVER");
  env.push_back("BUDSTIKKE_SERVER=" + silent.address());
  EXPECT_EQ(Cli("", {"whoami"}, env), 5) << err_;
  EXPECT_EQ(err_, "budstikke: UNAVAILABLE: no TLS connection to " + silent.address() +
                      " within 4s: the address accepts connections but does not answer like a "
                      "Budstikke server (is the server running at BUDSTIKKE_SERVER / --server?)\n");
  EXPECT_LT(seconds_, 5.0);
  EXPECT_GT(seconds_, 3.5);  // it did wait for the handshake, then gave up
  // inbox watch (a stream without a deadline) does not hang either.
  EXPECT_EQ(Cli("", {"inbox", "watch", "--output", "json"}, env), 5) << err_;
  EXPECT_THAT(err_, HasSubstr("UNAVAILABLE: no TLS connection to " + silent.address()));
  EXPECT_LT(seconds_, 5.0);
}

TEST_F(CliTest, DeadlineExceededExit5) {
  // The call's deadline (--timeout 1) runs out before the connection is up:
  // deterministic, unlike racing a slow call on a loaded machine.
  SilentListener silent;
  std::vector<std::string> env = EnvWithout("BUDSTIKKE_SERVER");
  env.push_back("BUDSTIKKE_SERVER=" + silent.address());
  EXPECT_EQ(Cli("", {"whoami", "--timeout", "1", "--output", "json"}, env), 5) << err_;
  EXPECT_EQ(err_, "budstikke: DEADLINE_EXCEEDED: deadline of 1s exceeded while connecting to " +
                      silent.address() +
                      " (the server did not answer in time; is it reachable?)\n");
  EXPECT_THAT(out_, HasSubstr("\"code\":\"DEADLINE_EXCEEDED\""));
  EXPECT_GT(seconds_, 0.9);
  EXPECT_LT(seconds_, 3.0);
}

TEST_F(CliTest, RequestIdReusedForAnotherRequestExit3) {
  const std::vector<std::string> ask = {
      "consult", "ask",       "--to-type", "bup",          "--municipality", "0301",  "--age-band",
      "3-5",     "--concern", "sleep",     "--request-id", "cli-reuse-1",    "--text"};
  std::vector<std::string> first = ask;
  first.push_back("Barnet sover dårlig og er engstelig om morgenen.");
  EXPECT_EQ(Cli("kindergarten-staff", first), 0) << err_;
  std::vector<std::string> other = ask;
  other.push_back("Barnet gråter mye i garderoben.");
  EXPECT_EQ(Cli("kindergarten-staff", other), 3) << err_;
  EXPECT_THAT(err_, HasSubstr("budstikke: ALREADY_EXISTS: request_id 'cli-reuse-1' was already "
                              "used for a different request"));
}

// A server of its own: one call a second, a burst of two.
TEST(CliRateLimitTest, OverTheRateExit5WithTheWait) {
  TestServer server({"--rate-limit", "1"});
  std::string out, err;
  auto cli = [&](std::vector<std::string> args) {
    args.insert(args.begin(), BinDir() + "/budstikke");
    return RunCommand(args, &out, &err, server.CliEnv("kindergarten-staff"));
  };
  const std::vector<std::string> list = {"directory", "list", "--output", "json"};
  EXPECT_EQ(cli(list), 0) << err;
  EXPECT_EQ(cli(list), 0) << err;
  EXPECT_EQ(cli(list), 5) << err;
  EXPECT_THAT(err, ::testing::MatchesRegex(
                       "budstikke: RESOURCE_EXHAUSTED: rate limit: at most 1 calls per second per "
                       "caller; retry in 0\\.[0-9]+ s\n"));
  EXPECT_THAT(out, HasSubstr("\"rule\":\"api.rate_limit\""));
  // Another caller has its own rate.
  EXPECT_EQ(RunCommand({BinDir() + "/budstikke", "directory", "list"}, &out, &err,
                       server.CliEnv("bup-clinician")),
            0)
      << err;
}

// Names listed under "Subcommands:" in a CLI11 help text.
std::vector<std::string> SubcommandsIn(const std::string& help) {
  std::vector<std::string> names;
  const size_t start = help.find("Subcommands:\n");
  if (start == std::string::npos) return names;
  std::istringstream lines(help.substr(start));
  std::string line;
  std::getline(lines, line);  // the heading
  while (std::getline(lines, line)) {
    // "  name   description": two spaces, then a lowercase name.
    if (line.size() > 2 && line[0] == ' ' && line[1] == ' ' && line[2] >= 'a' && line[2] <= 'z') {
      names.push_back(line.substr(2, line.find(' ', 2) - 2));
    }
  }
  return names;
}

TEST_F(CliTest, EveryCommandHasHelpWithAnExample) {
  // Walks the whole command tree from the top-level help, so a new command
  // without an example fails here.
  ASSERT_EQ(Cli("kindergarten-staff", {"--help"}), 0);
  std::vector<std::vector<std::string>> leaves;
  for (const std::string& top : SubcommandsIn(out_)) {
    ASSERT_EQ(Cli("kindergarten-staff", {top, "--help"}), 0) << top;
    std::vector<std::string> subs = SubcommandsIn(out_);
    if (subs.empty()) leaves.push_back({top});
    for (const std::string& sub : subs) leaves.push_back({top, sub});
  }
  EXPECT_GE(leaves.size(), 30u);
  for (std::vector<std::string> cmd : leaves) {
    const std::string name = absl::StrJoin(cmd, " ");
    cmd.push_back("--help");
    EXPECT_EQ(Cli("kindergarten-staff", cmd), 0) << name;
    EXPECT_THAT(out_, ::testing::ContainsRegex("example: .*budstikke " + cmd[0])) << name;
  }
}

}  // namespace
}  // namespace budstikke
