// A real budstikke-server process for integration tests: development
// certificates made by certs/dev-certs.sh in a temp dir, an embedded RocksDB
// in that dir, a loopback port chosen by the kernel, and helpers to make
// mTLS channels for any demo identity.
#ifndef BUDSTIKKE_TESTS_SUPPORT_TEST_SERVER_H_
#define BUDSTIKKE_TESTS_SUPPORT_TEST_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace budstikke::testing {

// $BUDSTIKKE_SOURCE_DIR and $BUDSTIKKE_BIN_DIR (set by CTest).
std::string SourceDir();
std::string BinDir();
// A bash script (argument $1: target dir) that fills $1 with the development
// certificates, from a per-build cache.
std::string MakeCertsScript();

class TestServer {
 public:
  // Makes certs (once per TestServer) and starts the server with `extra_args`.
  // Aborts the test (ADD_FAILURE + empty address) if it does not come up.
  explicit TestServer(std::vector<std::string> extra_args = {});
  ~TestServer();

  // "localhost:<port>"
  const std::string& address() const { return address_; }
  const std::string& cert_dir() const { return cert_dir_; }
  const std::string& data_dir() const { return data_dir_; }
  const TempDir& dir() const { return dir_; }

  // Channel authenticated as the demo identity `name` (e.g. "kindergarten-staff").
  std::shared_ptr<grpc::Channel> Channel(const std::string& name) const;
  // Channel with explicit PEM files; empty cert/key means no client certificate.
  std::shared_ptr<grpc::Channel> ChannelWith(const std::string& ca_file,
                                             const std::string& cert_file,
                                             const std::string& key_file) const;
  // Environment for the CLI as `name`.
  std::vector<std::string> CliEnv(const std::string& name) const;

  // Starts again on the same data dir and port after Stop().
  void Stop();
  void Restart();
  // Restart() with `more_args` added to the arguments from now on.
  void RestartWith(const std::vector<std::string>& more_args);
  Process* process() { return process_.get(); }

 private:
  void Start();

  TempDir dir_;
  std::string cert_dir_, data_dir_, address_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  std::unique_ptr<Process> process_;
};

}  // namespace budstikke::testing

#endif  // BUDSTIKKE_TESTS_SUPPORT_TEST_SERVER_H_
