#include "services/server/metrics.h"

#include <grpcpp/grpcpp.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/server/heap.h"
#include "storage/store.h"

namespace budstikke::server {

namespace {

// The outbox gauges, computed when Prometheus scrapes.
class OutboxGauges final : public prometheus::Collectable {
 public:
  struct Outbox {
    std::string name;
    std::function<double()> backlog, age;
  };
  void Add(Outbox outbox) {
    std::lock_guard<std::mutex> lock(mu_);
    outboxes_.push_back(std::move(outbox));
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::MetricFamily backlog{"budstikke_outbox_backlog",
                                     "Outbox entries not yet delivered to their receiver",
                                     prometheus::MetricType::Gauge,
                                     {}};
    prometheus::MetricFamily age{"budstikke_outbox_oldest_age_seconds",
                                 "Age of the oldest undelivered outbox entry",
                                 prometheus::MetricType::Gauge,
                                 {}};
    std::lock_guard<std::mutex> lock(mu_);
    for (const Outbox& o : outboxes_) {
      backlog.metric.push_back(Gauge(o.name, o.backlog()));
      age.metric.push_back(Gauge(o.name, o.age()));
    }
    if (outboxes_.empty()) return {};
    return {backlog, age};
  }

 private:
  static prometheus::ClientMetric Gauge(const std::string& outbox, double value) {
    prometheus::ClientMetric m;
    m.label.push_back({"outbox", outbox});
    m.gauge.value = value;
    return m;
  }
  mutable std::mutex mu_;
  std::vector<Outbox> outboxes_;
};

// The key rewrap's counter and gauge, computed when Prometheus scrapes.
class RewrapMetrics final : public prometheus::Collectable {
 public:
  void Set(std::function<double()> records, std::function<double()> remaining) {
    std::lock_guard<std::mutex> lock(mu_);
    records_ = std::move(records);
    remaining_ = std::move(remaining);
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!records_) return {};
    prometheus::MetricFamily records{
        "budstikke_rewrap_records_total",
        "Wrapped content keys moved to an agency's current key version since the start",
        prometheus::MetricType::Counter,
        {}};
    prometheus::ClientMetric r;
    r.counter.value = records_();
    records.metric.push_back(r);
    prometheus::MetricFamily remaining{"budstikke_rewrap_remaining",
                                       "Wrapped content keys still under an older key version "
                                       "that a running rewrap will move",
                                       prometheus::MetricType::Gauge,
                                       {}};
    prometheus::ClientMetric g;
    g.gauge.value = remaining_();
    remaining.metric.push_back(g);
    return {records, remaining};
  }

 private:
  mutable std::mutex mu_;
  std::function<double()> records_, remaining_;
};

// One gauge family with a `kind` label.
prometheus::MetricFamily KindGauges(const char* name, const char* help,
                                    std::initializer_list<std::pair<const char*, double>> kinds) {
  prometheus::MetricFamily f{name, help, prometheus::MetricType::Gauge, {}};
  for (const auto& [kind, value] : kinds) {
    prometheus::ClientMetric g;
    g.label.push_back({"kind", kind});
    g.gauge.value = value;
    f.metric.push_back(std::move(g));
  }
  return f;
}

// The store's memory by kind, read when Prometheus scrapes.
class StorageMemory final : public prometheus::Collectable {
 public:
  void Set(const storage::Store* store) { store_.store(store, std::memory_order_release); }
  std::vector<prometheus::MetricFamily> Collect() const override {
    const storage::Store* store = store_.load(std::memory_order_acquire);
    if (store == nullptr) return {};
    const storage::Store::MemoryUsage m = store->Memory();
    return {KindGauges("budstikke_storage_memory_bytes",
                       "Memory RocksDB holds: memtables, table readers (index and filter blocks "
                       "outside the cache) and the block cache",
                       {{"memtables", static_cast<double>(m.memtables)},
                        {"table_readers", static_cast<double>(m.table_readers)},
                        {"block_cache", static_cast<double>(m.block_cache)}})};
  }

 private:
  std::atomic<const storage::Store*> store_{nullptr};
};

// The allocator's heap by kind (heap.h), when the process runs on tcmalloc.
class HeapMemory final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    const std::optional<HeapUsage> heap = ReadHeap();
    if (!heap.has_value()) return {};
    return {KindGauges("budstikke_heap_bytes",
                       "The allocator's heap: in use, free pages held, free objects cached",
                       {{"in_use", static_cast<double>(heap->in_use)},
                        {"free", static_cast<double>(heap->free)},
                        {"cached", static_cast<double>(heap->cached)}})};
  }
};

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<OutboxGauges> outboxes = std::make_shared<OutboxGauges>();
  std::shared_ptr<RewrapMetrics> rewrap = std::make_shared<RewrapMetrics>();
  std::shared_ptr<StorageMemory> storage = std::make_shared<StorageMemory>();
  std::shared_ptr<HeapMemory> heap = std::make_shared<HeapMemory>();
  std::unique_ptr<prometheus::Exposer> exposer;
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* durations = nullptr;
  prometheus::Family<prometheus::Counter>* escalations = nullptr;
};

namespace {

// "FAILED_PRECONDITION": gRPC's codes are absl's, number for number.
std::string CodeName(int code) {
  return code >= 0 && code <= 16 ? absl::StatusCodeToString(static_cast<absl::StatusCode>(code))
                                 : "UNKNOWN";
}

class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(Metrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = static_cast<int>(methods->GetSendStatus().error_code());
    }
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::POST_RECV_CLOSE)) {
      std::chrono::duration<double> d = std::chrono::steady_clock::now() - start_;
      metrics_->Observe(method_, code_, d.count());
    }
    methods->Proceed();
  }

 private:
  Metrics* metrics_;
  std::string method_;
  std::chrono::steady_clock::time_point start_;
  int code_ = 0;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(metrics_, info->method());
  }

 private:
  Metrics* metrics_;
};

}  // namespace

Metrics::Metrics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Metrics::~Metrics() = default;

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(const std::string& listen) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(listen);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on --metrics-listen ", listen, ": ", e.what()));
  }
  impl->registry = std::make_shared<prometheus::Registry>();
  impl->requests = &prometheus::BuildCounter()
                        .Name("budstikke_grpc_requests_total")
                        .Help("Finished gRPC calls by method and status code")
                        .Register(*impl->registry);
  impl->durations = &prometheus::BuildHistogram()
                         .Name("budstikke_grpc_request_duration_seconds")
                         .Help("gRPC call duration by method")
                         .Register(*impl->registry);
  impl->escalations = &prometheus::BuildCounter()
                           .Name("budstikke_referral_escalations_total")
                           .Help("Urgent referrals not acknowledged in time (--urgent-ack-minutes)")
                           .Register(*impl->registry);
  impl->escalations->Add({});  // exported as 0 from the start
  impl->exposer->RegisterCollectable(impl->registry);
  impl->exposer->RegisterCollectable(impl->outboxes);
  impl->exposer->RegisterCollectable(impl->rewrap);
  impl->exposer->RegisterCollectable(impl->storage);
  impl->exposer->RegisterCollectable(impl->heap);
  return std::unique_ptr<Metrics>(new Metrics(std::move(impl)));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
Metrics::InterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>(this);
}

void Metrics::Observe(const std::string& method, int code, double seconds) {
  impl_->requests->Add({{"method", method}, {"code", CodeName(code)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  impl_->durations->Add({{"method", method}}, kBuckets).Observe(seconds);
}

void Metrics::AddOutbox(const std::string& outbox, std::function<double()> backlog,
                        std::function<double()> oldest_age_seconds) {
  impl_->outboxes->Add({outbox, std::move(backlog), std::move(oldest_age_seconds)});
}

void Metrics::SetRewrap(std::function<double()> records, std::function<double()> remaining) {
  impl_->rewrap->Set(std::move(records), std::move(remaining));
}

void Metrics::SetStore(const storage::Store* store) { impl_->storage->Set(store); }

void Metrics::CountEscalation() { impl_->escalations->Add({}).Increment(); }

}  // namespace budstikke::server
