// One gRPC server at a time for the end-to-end benchmarks (consult_bench,
// referral_bench): the echo baseline and the real service each run alone in
// the process, as budstikke-server runs its one server.
//
// Why not two servers side by side: gRPC's throughput depends on how many
// server completion queues the process has, and not the same way for every
// handler. With the echo server and the real server both alive (two queues),
// echo ran at 18-20k req/s and Ask at 8-9k; each alone (one queue, as
// budstikke-server) echo ran at 14-15k and Ask at 10-10.4k. Giving one server
// NUM_CQS=2 reproduces the pair (echo 19-21k, Ask 7.8-8.5k). The benchmarks so
// measured the baseline in a setting that helps it and the service in one that
// hurts it (docs/PERFORMANCE.md, Consultations, fourth round).
#ifndef BUDSTIKKE_BENCH_ONE_SERVER_H_
#define BUDSTIKKE_BENCH_ONE_SERVER_H_

#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "services/common/server_threads.h"
#include "services/common/tls.h"

namespace budstikke::bench {

class OneServer {
 public:
  explicit OneServer(common::TlsFiles tls, int max_receive_bytes = 0)
      : tls_(std::move(tls)), max_receive_bytes_(max_receive_bytes) {}
  ~OneServer() {
    absl::MutexLock lock(&mu_);
    StopLocked();
  }
  OneServer(const OneServer&) = delete;
  OneServer& operator=(const OneServer&) = delete;

  // The port of a server that serves `service` and nothing else. A server of
  // another service is shut down first. Every benchmark thread calls this at
  // the start of its run; the threads of one run share one server.
  int Serve(grpc::Service* service) {
    absl::MutexLock lock(&mu_);
    if (service_ == service && server_ != nullptr) return port_;
    StopLocked();
    grpc::ServerBuilder b;
    common::ApplyServerThreadOptions(b);  // as budstikke-server
    b.AddListeningPort("127.0.0.1:0", common::MakeServerCredentials(tls_), &port_);
    if (max_receive_bytes_ > 0) b.SetMaxReceiveMessageSize(max_receive_bytes_);
    b.RegisterService(service);
    server_ = b.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      std::fprintf(stderr, "bench: cannot start a gRPC server\n");
      std::abort();
    }
    service_ = service;
    return port_;
  }

 private:
  void StopLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (server_ == nullptr) return;
    server_->Shutdown();
    server_->Wait();
    server_.reset();
    service_ = nullptr;
    port_ = 0;
  }

  const common::TlsFiles tls_;
  const int max_receive_bytes_;
  absl::Mutex mu_;
  grpc::Service* service_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::unique_ptr<grpc::Server> server_ ABSL_GUARDED_BY(mu_);
  int port_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace budstikke::bench

#endif  // BUDSTIKKE_BENCH_ONE_SERVER_H_
