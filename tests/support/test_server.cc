#include "tests/support/test_server.h"

#include <chrono>
#include <cstdlib>
#include <regex>
#include <thread>

#include "gtest/gtest.h"

namespace budstikke::testing {

std::string SourceDir() {
  const char* v = std::getenv("BUDSTIKKE_SOURCE_DIR");
  return v ? v : ".";
}

std::string BinDir() {
  const char* v = std::getenv("BUDSTIKKE_BIN_DIR");
  return v ? v : "./bin";
}

std::string MakeCertsScript() {
  // Making ~20 certificates takes seconds on a loaded 2-core machine, so one
  // set per build directory is made (under a lock) and copied per server.
  // dev-certs.sh is idempotent and fills in anything missing.
  return "set -e; cache=\"" + BinDir() +
         "/../test-certs\"; "
         "exec 9>\"$cache.lock\"; flock 9; "
         "bash \"" +
         SourceDir() +
         "/certs/dev-certs.sh\" \"$cache\" >/dev/null; "
         "exec 9>&-; mkdir -p \"$1\"; cp -a \"$cache/.\" \"$1/\"";
}

TestServer::TestServer(std::vector<std::string> extra_args)
    : cert_dir_(dir_.Sub("certs")),
      data_dir_(dir_.Sub("data")),
      extra_args_(std::move(extra_args)) {
  std::string err;
  int rc =
      RunCommand({"/bin/bash", "-c", MakeCertsScript(), "make-certs", cert_dir_}, nullptr, &err);
  if (rc != 0) {
    ADD_FAILURE() << "making certificates failed (" << rc << "): " << err;
    return;
  }
  Start();
}

TestServer::~TestServer() { Stop(); }

void TestServer::Start() {
  std::string listen = "127.0.0.1:" + std::to_string(port_);
  std::vector<std::string> argv = {BinDir() + "/budstikke-server",
                                   "--listen",
                                   listen,
                                   "--data-dir",
                                   data_dir_,
                                   "--tls-cert",
                                   cert_dir_ + "/server.pem",
                                   "--tls-key",
                                   cert_dir_ + "/server.key",
                                   "--tls-ca",
                                   cert_dir_ + "/ca.pem",
                                   "--master-key-file",
                                   cert_dir_ + "/master.key",
                                   "--audit-signing-key-file",
                                   cert_dir_ + "/audit-signing.key",
                                   "--seed-directory",
                                   SourceDir() + "/certs/dev-directory.json"};
  for (const auto& a : extra_args_) argv.push_back(a);
  process_ = std::make_unique<Process>(argv, dir_.Sub("server.out"), dir_.Sub("server.err"));
  const std::regex re("listening on 127\\.0\\.0\\.1:([0-9]+)");
  for (int i = 0; i < 1000; ++i) {
    std::smatch m;
    std::string out = process_->ReadStdout();
    if (std::regex_search(out, m, re)) {
      port_ = std::stoi(m[1]);
      address_ = "localhost:" + std::to_string(port_);
      return;
    }
    if (process_->Wait(0) != -1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ADD_FAILURE() << "server did not start: " << process_->ReadStderr();
}

void TestServer::Stop() {
  if (process_) process_->Stop();
}

void TestServer::Restart() {
  Stop();
  Start();
}

void TestServer::RestartWith(const std::vector<std::string>& more_args) {
  extra_args_.insert(extra_args_.end(), more_args.begin(), more_args.end());
  Restart();
}

std::shared_ptr<grpc::Channel> TestServer::ChannelWith(const std::string& ca_file,
                                                       const std::string& cert_file,
                                                       const std::string& key_file) const {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadWholeFile(ca_file);
  if (!cert_file.empty()) {
    ssl.pem_cert_chain = ReadWholeFile(cert_file);
    ssl.pem_private_key = ReadWholeFile(key_file);
  }
  return grpc::CreateChannel(address_, grpc::SslCredentials(ssl));
}

std::shared_ptr<grpc::Channel> TestServer::Channel(const std::string& name) const {
  return ChannelWith(cert_dir_ + "/ca.pem", cert_dir_ + "/" + name + ".pem",
                     cert_dir_ + "/" + name + ".key");
}

std::vector<std::string> TestServer::CliEnv(const std::string& name) const {
  return {"BUDSTIKKE_SERVER=" + address_, "BUDSTIKKE_CA=" + cert_dir_ + "/ca.pem",
          "BUDSTIKKE_CERT=" + cert_dir_ + "/" + name + ".pem",
          "BUDSTIKKE_KEY=" + cert_dir_ + "/" + name + ".key"};
}

}  // namespace budstikke::testing
