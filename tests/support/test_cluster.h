// Budstikke in microservices mode for integration tests: every service as its
// own budstikke-server process on loopback (scripts/cluster.sh, the same
// script `make cluster` runs), with its own data dir and certificate, and the
// gateway in front. Stopped when the object goes away. With
// BUDSTIKKE_CLUSTER_SCRIPT set, that script (same commands and files as
// cluster.sh) starts it instead: tests/chart/chart_cluster.sh runs the Helm
// chart's microservices render as processes.
#ifndef BUDSTIKKE_TESTS_SUPPORT_TEST_CLUSTER_H_
#define BUDSTIKKE_TESTS_SUPPORT_TEST_CLUSTER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace budstikke::testing {

class TestCluster {
 public:
  // Starts the cluster; `server_flags` go to every process. Aborts the test
  // (ADD_FAILURE, started() false) if it does not come up.
  explicit TestCluster(std::string server_flags = "");
  ~TestCluster();

  bool started() const { return started_; }
  // The gateway: "localhost:<port>".
  const std::string& address() const { return address_; }
  std::string cert_dir() const { return dir_.Sub("cluster/certs"); }
  // "localhost:<port>" of one service's process.
  std::string AddressOf(const std::string& service) const;

  // mTLS channel to the gateway as the identity `name` (e.g. "bup-clinician").
  std::shared_ptr<grpc::Channel> Channel(const std::string& name) const;
  // mTLS channel straight to `service`'s process as `name` (e.g. "svc-gateway").
  std::shared_ptr<grpc::Channel> ChannelTo(const std::string& service,
                                           const std::string& name) const;
  std::vector<std::string> CliEnv(const std::string& name) const;

  // kill -9 of one process; Restart() starts it again on its data dir.
  void Kill(const std::string& service);
  bool Restart(const std::string& service);
  // The pid of one process (0 if unknown).
  int PidOf(const std::string& service) const;
  // The process's stderr log.
  std::string LogOf(const std::string& service) const;

 private:
  int Script(const std::vector<std::string>& args, std::string* out = nullptr) const;
  std::shared_ptr<grpc::Channel> ChannelAt(const std::string& address,
                                           const std::string& name) const;

  TempDir dir_;
  std::string server_flags_;
  std::string address_;
  bool started_ = false;
};

}  // namespace budstikke::testing

#endif  // BUDSTIKKE_TESTS_SUPPORT_TEST_CLUSTER_H_
