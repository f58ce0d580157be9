// Certificate rotation under load (issue 20, build point 6), over the real
// budstikke-server process: while clients call without pause, the server's CA
// bundle and then its certificate and key are replaced on disk (renamed into
// place, as cert-manager and kubelet do). No call fails, and new handshakes
// use the new files: a client that trusts only the old CA can no longer
// connect, and a client certificate of the new CA is accepted.
#include <grpcpp/grpcpp.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "budstikke/v1/directory.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::ReadWholeFile;
using ::budstikke::testing::RunCommand;
using ::budstikke::testing::SourceDir;
using ::budstikke::testing::TempDir;
using ::budstikke::testing::TestServer;

// Writes `content` next to `path` and renames it over `path` (atomic).
void ReplaceFile(const std::string& path, const std::string& content, mode_t mode) {
  const std::string tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
  }
  ASSERT_EQ(chmod(tmp.c_str(), mode), 0);
  ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
}

grpc::Status WhoAmI(const std::shared_ptr<grpc::Channel>& channel, std::string* spiffe_id) {
  auto stub = v1::DirectoryService::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::WhoAmIResponse resp;
  grpc::Status s = stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  if (spiffe_id != nullptr) *spiffe_id = resp.spiffe_id();
  return s;
}

// A new channel (so a new handshake) with fresh credentials from the files.
std::shared_ptr<grpc::Channel> NewChannel(const TestServer& server, const std::string& ca,
                                          const std::string& cert, const std::string& key) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // no sharing with other channels
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWholeFile(ca);
  ssl.pem_cert_chain = ReadWholeFile(cert);
  ssl.pem_private_key = ReadWholeFile(key);
  return grpc::CreateCustomChannel(server.address(), grpc::SslCredentials(ssl), args);
}

TEST(CertRotationTest, ServerCertificateAndCaBundleReplacedUnderLoad) {
  TestServer server({"--tls-refresh-seconds", "1", "--rate-limit", "0"});
  ASSERT_FALSE(server.address().empty());
  const std::string old_dir = server.cert_dir();
  // The new CA, with the same identities (names, SPIFFE IDs) as the old one.
  TempDir tmp;
  const std::string new_dir = tmp.Sub("new-certs");
  ASSERT_EQ(RunCommand({"/bin/bash", SourceDir() + "/certs/dev-certs.sh", new_dir}), 0);
  ASSERT_NE(ReadWholeFile(new_dir + "/ca.pem"), ReadWholeFile(old_dir + "/ca.pem"));
  const std::string old_ca = tmp.Sub("old-ca.pem");
  ReplaceFile(old_ca, ReadWholeFile(old_dir + "/ca.pem"), 0644);
  // What clients trust during the rotation: both CAs.
  const std::string both = tmp.Sub("both-ca.pem");
  ReplaceFile(both, ReadWholeFile(old_dir + "/ca.pem") + ReadWholeFile(new_dir + "/ca.pem"), 0644);
  // The client's files, copied before the server's are replaced.
  const std::string client_cert = tmp.Sub("staff.pem"), client_key = tmp.Sub("staff.key");
  ReplaceFile(client_cert, ReadWholeFile(old_dir + "/kindergarten-staff.pem"), 0644);
  ReplaceFile(client_key, ReadWholeFile(old_dir + "/kindergarten-staff.key"), 0600);

  // Load: 4 clients; each opens a new connection every 5th call, so
  // handshakes happen throughout the rotation.
  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, handshakes{0};
  std::vector<std::string> failures[4];
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      std::shared_ptr<grpc::Channel> channel;
      for (int i = 0; !stop.load(); ++i) {
        if (i % 5 == 0) {
          channel = NewChannel(server, both, client_cert, client_key);
          handshakes.fetch_add(1);
        }
        grpc::Status s = WhoAmI(channel, nullptr);
        calls.fetch_add(1);
        if (!s.ok()) failures[t].push_back(s.error_message());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  // 1. The server's CA bundle gains the new CA.
  ReplaceFile(old_dir + "/ca.pem", ReadWholeFile(both), 0644);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  // 2. The server's certificate and key from the new CA.
  ReplaceFile(old_dir + "/server.key", ReadWholeFile(new_dir + "/server.key"), 0600);
  ReplaceFile(old_dir + "/server.pem", ReadWholeFile(new_dir + "/server.pem"), 0644);
  // New handshakes present the new certificate once the server has read it:
  // a client that trusts only the new CA gets in.
  bool new_cert_served = false;
  for (int i = 0; i < 100 && !new_cert_served; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    new_cert_served = WhoAmI(NewChannel(server, new_dir + "/ca.pem", new_dir + "/gp-physician.pem",
                                        new_dir + "/gp-physician.key"),
                             nullptr)
                          .ok();
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  stop = true;
  for (auto& c : clients) c.join();

  EXPECT_TRUE(new_cert_served) << "the new certificate was not served within 10 s";
  for (int t = 0; t < 4; ++t) {
    EXPECT_TRUE(failures[t].empty()) << "client " << t << ": " << failures[t].size()
                                     << " failed calls, first: " << failures[t][0];
  }
  EXPECT_GT(calls.load(), 100);
  EXPECT_GT(handshakes.load(), 20);
  // A client that trusts only the old CA no longer accepts the server.
  EXPECT_EQ(WhoAmI(NewChannel(server, old_ca, client_cert, client_key), nullptr).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // Both CAs' client certificates are accepted, each as its identity.
  std::string id;
  ASSERT_TRUE(WhoAmI(NewChannel(server, both, client_cert, client_key), &id).ok());
  EXPECT_EQ(id, "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari");
  ASSERT_TRUE(
      WhoAmI(NewChannel(server, both, new_dir + "/gp-physician.pem", new_dir + "/gp-physician.key"),
             &id)
          .ok());
  EXPECT_EQ(id.rfind("spiffe://budstikke.test/agency/", 0), 0u) << id;
}

}  // namespace
}  // namespace budstikke
