// budstikke-server refuses bad configuration with a one-line reason and a
// non-zero exit code, before it listens or touches the data dir.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::BinDir;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::SourceDir;
using ::budstikke::testing::TempDir;
using ::testing::HasSubstr;

class ServerConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::string err;
    ASSERT_EQ(RunCommand({"/bin/bash", SourceDir() + "/certs/dev-certs.sh", dir_->Sub("c")},
                         nullptr, &err),
              0)
        << err;
  }
  static void TearDownTestSuite() { delete dir_; }

  // Valid flags; each test replaces one.
  std::map<std::string, std::string> Flags() const {
    std::string c = dir_->Sub("c");
    return {{"--listen", "127.0.0.1:0"},
            {"--data-dir", dir_->Sub("data")},
            {"--tls-cert", c + "/server.pem"},
            {"--tls-key", c + "/server.key"},
            {"--tls-ca", c + "/ca.pem"},
            {"--master-key-file", c + "/master.key"},
            {"--audit-signing-key-file", c + "/audit-signing.key"}};
  }

  // Runs the server with `flags` (+ extra) and expects it to refuse.
  void ExpectRefused(const std::map<std::string, std::string>& flags, const std::string& message,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> argv = {BinDir() + "/budstikke-server"};
    for (const auto& [k, v] : flags) {
      argv.push_back(k);
      argv.push_back(v);
    }
    for (auto& e : extra) argv.push_back(e);
    std::string out, err;
    int rc = RunCommand(argv, &out, &err);
    EXPECT_NE(rc, 0) << message;
    EXPECT_NE(rc, -1) << "server did not exit: " << message;
    EXPECT_THAT(err, HasSubstr(message));
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "not one line: " << err;
    EXPECT_THAT(out, ::testing::Not(HasSubstr("listening")));
  }

  std::string WriteFile(const std::string& name, const std::string& content, int mode) {
    std::string path = dir_->Sub(name);
    std::ofstream(path, std::ios::binary) << content;
    chmod(path.c_str(), mode);
    return path;
  }

  static TempDir* dir_;
};

TempDir* ServerConfigTest::dir_ = nullptr;

TEST_F(ServerConfigTest, MissingCertificate) {
  auto f = Flags();
  f["--tls-cert"] = dir_->Sub("nope.pem");
  ExpectRefused(f, "TLS certificate " + dir_->Sub("nope.pem") + " does not exist");
}

TEST_F(ServerConfigTest, CertificateIsNotPem) {
  auto f = Flags();
  f["--tls-cert"] = WriteFile("garbage.pem", "hello", 0644);
  ExpectRefused(f, "is not a PEM certificate");
}

// Tests run as root, for whom chmod 000 does not make a file unreadable; a
// directory in place of the file is unreadable for everyone.
TEST_F(ServerConfigTest, UnreadableCertificate) {
  auto f = Flags();
  const std::string dir = dir_->Sub("cert-is-a-dir.pem");
  std::filesystem::create_directories(dir);
  f["--tls-cert"] = dir;
  ExpectRefused(f, "TLS certificate " + dir + " cannot be read: Is a directory");
}

TEST_F(ServerConfigTest, UnreadableCaFile) {
  auto f = Flags();
  const std::string dir = dir_->Sub("ca-is-a-dir.pem");
  std::filesystem::create_directories(dir);
  f["--tls-ca"] = dir;
  ExpectRefused(f, "TLS CA file " + dir + " cannot be read: Is a directory");
}

TEST_F(ServerConfigTest, UnreadableKeyFiles) {
  const std::string dir = dir_->Sub("key-is-a-dir");
  std::filesystem::create_directories(dir);
  chmod(dir.c_str(), 0700);
  for (const char* flag : {"--tls-key", "--master-key-file", "--audit-signing-key-file"}) {
    auto f = Flags();
    f[flag] = dir;
    ExpectRefused(f, dir + " is not a regular file");
  }
}

TEST_F(ServerConfigTest, KeyReadableByOthers) {
  auto f = Flags();
  std::string key = testing::ReadWholeFile(dir_->Sub("c") + "/server.key");
  f["--tls-key"] = WriteFile("open.key", key, 0644);
  ExpectRefused(f, "has mode 0644; it must be 0600");
}

TEST_F(ServerConfigTest, KeyDoesNotMatchCertificate) {
  auto f = Flags();
  f["--tls-key"] = dir_->Sub("c") + "/admin.key";
  ExpectRefused(f, "does not match certificate");
}

TEST_F(ServerConfigTest, MissingMasterKey) {
  auto f = Flags();
  f["--master-key-file"] = dir_->Sub("no-master.key");
  ExpectRefused(f, "does not exist");
}

TEST_F(ServerConfigTest, MasterKeyWrongSize) {
  auto f = Flags();
  f["--master-key-file"] = WriteFile("short.key", std::string(31, 'k'), 0600);
  ExpectRefused(f, "must hold exactly 32 raw bytes, found 31");
}

// Group read is accepted only for the process's own group (the Kubernetes
// fsGroup case, services/common/key_file_test.cc); group write never.
TEST_F(ServerConfigTest, MasterKeyWritableByGroup) {
  auto f = Flags();
  f["--master-key-file"] = WriteFile("group.key", std::string(32, 'k'), 0660);
  ExpectRefused(f, "has mode 0660; it must be 0600");
}

// The data dir holds unencrypted indexes, inboxes and the audit log: an
// existing one must be as private as a key file (DESIGN).
TEST_F(ServerConfigTest, DataDirOpenToOthersOrGroupWriteIsRefused) {
  for (int mode : {0755, 0705, 0770}) {
    auto f = Flags();
    const std::string dir = dir_->Sub("data-" + std::to_string(mode));
    std::filesystem::create_directories(dir);
    chmod(dir.c_str(), mode);
    f["--data-dir"] = dir;
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", mode);
    ExpectRefused(f, "data dir " + dir + " has mode " + octal +
                         "; it must be 0700, or 0750 with the server's own group (chmod 700 " +
                         dir + ")");
  }
}

TEST_F(ServerConfigTest, DataDirReadableByAnotherGroupIsRefused) {
  auto f = Flags();
  const std::string dir = dir_->Sub("data-other-group");
  std::filesystem::create_directories(dir);
  const gid_t other = getegid() + 4242;
  ASSERT_EQ(chown(dir.c_str(), static_cast<uid_t>(-1), other), 0) << "tests run as root";
  chmod(dir.c_str(), 0750);
  f["--data-dir"] = dir;
  ExpectRefused(f, "data dir " + dir + " has mode 0750 and group " + std::to_string(other) +
                       ", not the server's group " + std::to_string(getegid()) +
                       "; it must be 0700 (chmod 700 " + dir + ")");
}

// Group read for the server's own group is the Kubernetes fsGroup case.
TEST_F(ServerConfigTest, DataDirOfTheServersOwnGroupStarts) {
  const std::string dir = dir_->Sub("data-own-group");
  std::filesystem::create_directories(dir);
  chmod(dir.c_str(), 0750);
  std::vector<std::string> argv = {BinDir() + "/budstikke-server"};
  auto f = Flags();
  f["--data-dir"] = dir;
  for (const auto& [k, v] : f) {
    argv.push_back(k);
    argv.push_back(v);
  }
  testing::Process server(argv, dir_->Sub("own-group.out"), dir_->Sub("own-group.err"));
  bool listening = false;
  for (int i = 0; i < 200 && !listening; ++i) {
    listening = server.ReadStdout().find("listening on") != std::string::npos;
    if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(listening) << server.ReadStderr();
  EXPECT_EQ(server.Stop(), 0) << server.ReadStderr();
}

TEST_F(ServerConfigTest, MissingSigningKeyFlag) {
  auto f = Flags();
  f.erase("--audit-signing-key-file");
  ExpectRefused(f, "--audit-signing-key-file is required");
}

TEST_F(ServerConfigTest, SigningKeyIsNotEd25519) {
  auto f = Flags();
  std::string key = testing::ReadWholeFile(dir_->Sub("c") + "/server.key");
  f["--audit-signing-key-file"] = WriteFile("ec-signing.key", key, 0600);
  ExpectRefused(f, "Ed25519");
}

TEST_F(ServerConfigTest, MissingRequiredFlag) {
  auto f = Flags();
  f.erase("--tls-ca");
  ExpectRefused(f, "--tls-ca is required");
}

TEST_F(ServerConfigTest, UnknownFlag) { ExpectRefused(Flags(), "--colour", {"--colour"}); }

TEST_F(ServerConfigTest, UnknownTarget) {
  auto f = Flags();
  f["--target"] = "directory,mailbox";
  ExpectRefused(f, "--target 'mailbox' is not a service");
}

TEST_F(ServerConfigTest, BadListenAddress) {
  auto f = Flags();
  f["--listen"] = "localhost";
  ExpectRefused(f, "--listen 'localhost' must be host:port");
}

TEST_F(ServerConfigTest, BadSeedDirectory) {
  auto f = Flags();
  f["--data-dir"] = dir_->Sub("seeddata");
  f["--seed-directory"] = WriteFile("seed.json", "{\"agencies\":[{\"id\":\"x\"}]}", 0644);
  ExpectRefused(f, "seed directory entry 1");
}

TEST_F(ServerConfigTest, StreamIdleSecondsOutOfRange) {
  auto f = Flags();
  f["--stream-idle-seconds"] = "0";
  ExpectRefused(f, "--stream-idle-seconds must be 1 to 86400");
}

TEST_F(ServerConfigTest, HelpListsFlagsAndExitsZero) {
  std::string out, err;
  int rc = RunCommand({BinDir() + "/budstikke-server", "--help"}, &out, &err);
  EXPECT_EQ(rc, 0);
  for (const char* flag :
       {"--listen", "--data-dir", "--tls-cert", "--tls-key", "--tls-ca", "--trust-domain",
        "--master-key-file", "--audit-signing-key-file", "--target", "--sync-writes",
        "--seed-directory", "--metrics-listen", "--refuse-synthetic-ids", "--operator-agency",
        "--attachment-max-age-hours", "--stream-idle-seconds"}) {
    EXPECT_THAT(out, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace budstikke
