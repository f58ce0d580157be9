// BudstikkeServer: hosts the configured services on one gRPC port over mTLS,
// with one RocksDB store, gRPC health and reflection, and Prometheus metrics.
//
// Lifecycle: Create() validates and opens everything (one-line error on any
// problem), Start() binds the port, Wait() blocks until Shutdown() (called
// from the SIGTERM handler) has drained in-flight calls.
#ifndef BUDSTIKKE_SERVICES_SERVER_SERVER_H_
#define BUDSTIKKE_SERVICES_SERVER_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "services/server/config.h"

namespace budstikke::server {

class BudstikkeServer {
 public:
  static absl::StatusOr<std::unique_ptr<BudstikkeServer>> Create(const ServerConfig& config);
  ~BudstikkeServer();

  // Binds and starts serving; returns the bound port (useful with port 0).
  absl::StatusOr<int> Start();
  void Wait();
  // Stops accepting calls and waits up to `grace_seconds` for in-flight ones.
  void Shutdown(int grace_seconds = 5);

  struct Impl;  // services/server/server.cc

 private:
  explicit BudstikkeServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_SERVER_H_
