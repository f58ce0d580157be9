// Prometheus metrics for budstikke-server, served on --metrics-listen at
// /metrics: budstikke_grpc_requests_total{method,code} and
// budstikke_grpc_request_duration_seconds{method}. Labels never hold content,
// ids or national ids. Counting happens in a gRPC server interceptor. Also
// outbox gauges, referral escalations, the key rewrap (SetRewrap) and the
// store's memory (SetStore).
#ifndef BUDSTIKKE_SERVICES_SERVER_METRICS_H_
#define BUDSTIKKE_SERVICES_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace budstikke::storage {
class Store;
}

namespace budstikke::server {

class Metrics {
 public:
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(const std::string& listen);
  ~Metrics();

  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> InterceptorFactory();

  // Records one finished call.
  void Observe(const std::string& method, int code, double seconds);
  // One urgent referral escalated (budstikke_referral_escalations_total).
  void CountEscalation();

  // Gauges budstikke_outbox_backlog{outbox} and
  // budstikke_outbox_oldest_age_seconds{outbox}, read from the callbacks once
  // a second (they must stay valid until the Metrics is destroyed).
  void AddOutbox(const std::string& outbox, std::function<double()> backlog,
                 std::function<double()> oldest_age_seconds);

  // budstikke_rewrap_records_total (wrapped keys moved to a new key version
  // since the process started) and budstikke_rewrap_remaining (still to
  // move), read from the callbacks when Prometheus scrapes (they must stay
  // valid until the Metrics is destroyed). Once per process.
  void SetRewrap(std::function<double()> records, std::function<double()> remaining);

  // budstikke_storage_memory_bytes{kind="memtables"|"table_readers"|
  // "block_cache"}: what RocksDB holds of `store` (Store::Memory), read when
  // Prometheus scrapes; `store` must outlive the Metrics. Once per process.
  void SetStore(const storage::Store* store);

 private:
  struct Impl;
  explicit Metrics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace budstikke::server

#endif  // BUDSTIKKE_SERVICES_SERVER_METRICS_H_
