#include "tests/support/test_cluster.h"

#include <cstdlib>
#include <regex>

#include "gtest/gtest.h"
#include "tests/support/process.h"
#include "tests/support/test_server.h"

namespace budstikke::testing {

TestCluster::TestCluster(std::string server_flags) : server_flags_(std::move(server_flags)) {
  std::string out;
  int rc = Script({"start"}, &out);
  std::smatch m;
  const std::regex re("gateway on (localhost:[0-9]+)");
  if (rc != 0 || !std::regex_search(out, m, re)) {
    ADD_FAILURE() << "cluster did not start (" << rc << "): " << out;
    return;
  }
  address_ = m[1];
  started_ = true;
}

TestCluster::~TestCluster() { Script({"stop"}); }

int TestCluster::Script(const std::vector<std::string>& args, std::string* out) const {
  // BUDSTIKKE_CLUSTER_SCRIPT: another script with cluster.sh's commands and
  // files, e.g. tests/chart/chart_cluster.sh (the Helm chart's render).
  const char* script = std::getenv("BUDSTIKKE_CLUSTER_SCRIPT");
  std::vector<std::string> argv = {"/bin/bash", script != nullptr && *script != '\0'
                                                    ? std::string(script)
                                                    : SourceDir() + "/scripts/cluster.sh"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string err;
  int rc = RunCommand(argv, out, &err,
                      {"CLUSTER_DIR=" + dir_.Sub("cluster"), "BUILD_DIR=" + BinDir() + "/..",
                       "CLUSTER_SERVER_FLAGS=" + server_flags_});
  if (out != nullptr) *out += err;
  return rc;
}

std::string TestCluster::AddressOf(const std::string& service) const {
  return "localhost:" + ReadWholeFile(dir_.Sub("cluster/" + service + ".port"));
}

std::shared_ptr<grpc::Channel> TestCluster::ChannelAt(const std::string& address,
                                                      const std::string& name) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWholeFile(cert_dir() + "/ca.pem");
  ssl.pem_cert_chain = ReadWholeFile(cert_dir() + "/" + name + ".pem");
  ssl.pem_private_key = ReadWholeFile(cert_dir() + "/" + name + ".key");
  return grpc::CreateChannel(address, grpc::SslCredentials(ssl));
}

std::shared_ptr<grpc::Channel> TestCluster::Channel(const std::string& name) const {
  return ChannelAt(address_, name);
}

std::shared_ptr<grpc::Channel> TestCluster::ChannelTo(const std::string& service,
                                                      const std::string& name) const {
  return ChannelAt(AddressOf(service), name);
}

std::vector<std::string> TestCluster::CliEnv(const std::string& name) const {
  return {"BUDSTIKKE_SERVER=" + address_, "BUDSTIKKE_CA=" + cert_dir() + "/ca.pem",
          "BUDSTIKKE_CERT=" + cert_dir() + "/" + name + ".pem",
          "BUDSTIKKE_KEY=" + cert_dir() + "/" + name + ".key"};
}

void TestCluster::Kill(const std::string& service) { Script({"kill", service}); }

bool TestCluster::Restart(const std::string& service) {
  std::string out;
  int rc = Script({"restart", service}, &out);
  if (rc != 0) ADD_FAILURE() << "restart " << service << " failed: " << out;
  return rc == 0;
}

int TestCluster::PidOf(const std::string& service) const {
  const std::string pid = ReadWholeFile(dir_.Sub("cluster/" + service + ".pid"));
  return pid.empty() ? 0 : std::atoi(pid.c_str());
}

std::string TestCluster::LogOf(const std::string& service) const {
  return ReadWholeFile(dir_.Sub("cluster/" + service + ".log"));
}

}  // namespace budstikke::testing
