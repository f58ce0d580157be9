// Consultation benchmarks over real mTLS, in one process:
//   BM_EchoAsk      a plain echo of the Ask request (no auth, no storage) on a
//                   gRPC server with the same TLS and thread setup: the
//                   baseline. Only one server is up at a time (one_server.h).
//   BM_ConsultAsk   the real ConsultationService Ask end to end (authenticate,
//                   screen, route, seal, audit, inbox, RocksDB write).
//   BM_CheckTextGrpc  CheckText of a 64 KiB text over the wire (bytes/s).
// Both Ask benchmarks run 4 client threads, each with its own connection.
// After the run, a summary compares Ask with echo: throughput ratio (target
// >= 0.60) and p99 ratio (target <= 2.0).
//
// Needs openssl and bash (certs/dev-certs.sh makes the certificates in a temp
// dir). Smoke mode: --benchmark_min_time=0.01.
#include <benchmark/benchmark.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "bench/bench_env.h"
#include "bench/one_server.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/tls.h"
#include "services/consultation/consultation.h"
#include "services/consultation/consultation_service.h"
#include "services/directory/directory.h"
#include "services/inbox/inbox.h"
#include "storage/envelope.h"
#include "storage/keyring.h"

namespace budstikke {

const char bench::kBenchName[] = "consult_bench";

namespace {

constexpr int kClients = 4;

const char kWorry[] =
    "Vi er bekymret for en gutt i barnehagen som de siste ukene har vært svært urolig. "
    "Han slår andre barn når han blir frustrert, sover ofte på formiddagen og forteller at "
    "det er mye krangling hjemme. Foreldrene virker slitne ved henting og bringing. Vi har "
    "prøvd å skjerme ham i mindre grupper, og det hjelper noe. Vi lurer på om dette er "
    "noe vi bør følge opp videre, hvordan vi kan ta det opp med foreldrene på en god måte, "
    "og om det er tegn vi bør være særlig oppmerksomme på framover.";

// The baseline: same request and response types, same TLS, no work.
class EchoService final : public v1::ConsultationService::Service {
 public:
  grpc::Status Ask(grpc::ServerContext*, const v1::AskConsultationRequest* req,
                   v1::Consultation* resp) override {
    resp->set_id(req->request_id());
    resp->set_text(req->text());
    resp->set_age_band(req->age_band());
    *resp->mutable_concerns() = req->concerns();
    return grpc::Status::OK;
  }
};

using bench::Must;

struct Env : bench::ServiceEnv {
  std::unique_ptr<storage::Envelope> envelope;
  std::unique_ptr<pii::Scanner> scanner;
  std::unique_ptr<consultation::Consultations> consultations;
  std::unique_ptr<consultation::ConsultationServiceImpl> service;
  EchoService echo;

  ~Env() {
    server.reset();
    consultations.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Env* g_env = nullptr;
std::atomic<uint64_t> g_request_counter{0};

Env* GetEnv() {
  static Env* env = [] {
    auto* e = new Env();
    bench::OpenStores(
        e, {storage::Keyring::kKeysColumnFamily, common::kAuditOutboxColumnFamily,
            directory::kColumnFamily, consultation::kColumnFamily, inbox::kColumnFamily});
    e->envelope = Must(storage::Envelope::Create(e->keyring.get()));
    e->scanner = Must(pii::Scanner::Create(pii::ScannerConfig()));
    consultation::Consultations::Deps d;
    d.store = e->store.get();
    d.keyring = e->keyring.get();
    d.envelope = e->envelope.get();
    d.audit = e->audit.get();
    d.directory = e->directory.get();
    d.inbox = e->inbox.get();
    d.scanner = e->scanner.get();
    d.clock = &e->clock;
    e->consultations = Must(consultation::Consultations::Create(d, {}));
    bench::MakeServerSide(e);
    e->service = std::make_unique<consultation::ConsultationServiceImpl>(
        e->consultations.get(), e->auth.get(), e->executor.get());
    g_env = e;
    return e;
  }();
  return env;
}

std::unique_ptr<v1::ConsultationService::Stub> NewStub(int port, int client_index) {
  return v1::ConsultationService::NewStub(
      bench::ClientChannel(*GetEnv(), "kindergarten-staff", port, client_index));
}

v1::AskConsultationRequest AskRequest() {
  v1::AskConsultationRequest r;
  r.mutable_recipient()->set_agency("bup-oslo");
  r.set_age_band(v1::AGE_BAND_3_5);
  r.add_concerns(v1::CONCERN_BEHAVIOUR);
  r.add_concerns(v1::CONCERN_FAMILY_CONFLICT);
  r.set_text(kWorry);
  return r;
}

// Per-run statistics, kept for the summary (the final run of each benchmark,
// i.e. the one with the most iterations, is reported).
struct RunStats {
  int64_t ops = 0;
  double wall_seconds = 0;
  std::vector<double> latencies_us;
};
std::mutex stats_mu;
std::map<std::string, std::map<int64_t, RunStats>> stats;

void RecordThread(const std::string& name, int64_t max_iterations, double wall,
                  std::vector<double>&& lat) {
  std::lock_guard<std::mutex> lock(stats_mu);
  RunStats& s = stats[name][max_iterations];
  s.ops += static_cast<int64_t>(lat.size());
  s.wall_seconds = std::max(s.wall_seconds, wall);
  s.latencies_us.insert(s.latencies_us.end(), lat.begin(), lat.end());
}

void RunAsk(benchmark::State& state, bool echo, const std::string& name) {
  Env* e = GetEnv();
  auto stub =
      NewStub(e->server->Serve(echo ? static_cast<grpc::Service*>(&e->echo) : e->service.get()),
              state.thread_index());
  v1::AskConsultationRequest req = AskRequest();
  // Warm the connection (handshake) outside the timed loop.
  {
    grpc::ClientContext ctx;
    v1::CheckTextRequest ct;
    v1::CheckTextResponse cr;
    (void)stub->CheckText(&ctx, ct, &cr);
  }
  // A new run (e.g. the next --benchmark_repetitions) starts its statistics
  // afresh; thread 0 clears them before the loop's start barrier, so no
  // thread of this run has recorded yet.
  if (state.thread_index() == 0) {
    std::lock_guard<std::mutex> lock(stats_mu);
    stats[name].erase(state.max_iterations);
  }
  std::vector<double> lat;
  lat.reserve(4096);
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    req.set_request_id("bench-" + std::to_string(g_request_counter.fetch_add(1)));
    grpc::ClientContext ctx;
    v1::Consultation resp;
    const auto t0 = std::chrono::steady_clock::now();
    grpc::Status s = stub->Ask(&ctx, req, &resp);
    const auto t1 = std::chrono::steady_clock::now();
    if (!s.ok()) {
      state.SkipWithError(("Ask failed: " + s.error_message()).c_str());
      break;
    }
    lat.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  state.SetItemsProcessed(state.iterations());
  RecordThread(name, state.max_iterations, wall, std::move(lat));
}

void BM_EchoAsk(benchmark::State& state) { RunAsk(state, true, "echo"); }
void BM_ConsultAsk(benchmark::State& state) { RunAsk(state, false, "ask"); }
BENCHMARK(BM_EchoAsk)->Threads(kClients)->UseRealTime();
BENCHMARK(BM_ConsultAsk)->Threads(kClients)->UseRealTime();

// The domain cost of Ask alone (no gRPC, no TLS, no authentication): where
// Ask's time goes when compared with BM_ConsultAsk.
void BM_DomainAsk(benchmark::State& state) {
  Env* e = GetEnv();
  common::Caller caller;
  caller.identity = Must(common::ParseSpiffeId(
      "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari", "budstikke.test"));
  v1::AskConsultationRequest req = AskRequest();
  for (auto _ : state) {
    req.set_request_id("domain-" + std::to_string(g_request_counter.fetch_add(1)));
    auto r = e->consultations->Ask(caller, req);
    if (!r.ok()) {
      state.SkipWithError(("Ask failed: " + r.status().ToString()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DomainAsk)->UseRealTime();
BENCHMARK(BM_DomainAsk)->Threads(kClients)->UseRealTime();

void BM_CheckTextGrpc(benchmark::State& state) {
  Env* e = GetEnv();
  auto stub = NewStub(e->server->Serve(e->service.get()), 0);
  v1::CheckTextRequest req;
  std::string text;
  while (text.size() + sizeof(kWorry) < 64 * 1024) {
    text += kWorry;
    text += "\n";
  }
  req.set_text(text);
  for (auto _ : state) {
    grpc::ClientContext ctx;
    v1::CheckTextResponse resp;
    grpc::Status s = stub->CheckText(&ctx, req, &resp);
    if (!s.ok()) {
      state.SkipWithError(("CheckText failed: " + s.error_message()).c_str());
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_CheckTextGrpc)->UseRealTime();

struct Summary {
  double ops_per_s = 0, p50 = 0, p99 = 0;
  int64_t ops = 0;
};

std::optional<Summary> Summarize(const std::string& name) {
  auto it = stats.find(name);
  if (it == stats.end() || it->second.empty()) return std::nullopt;
  RunStats& r = it->second.rbegin()->second;  // the run with the most iterations
  if (r.latencies_us.empty() || r.wall_seconds <= 0) return std::nullopt;
  std::sort(r.latencies_us.begin(), r.latencies_us.end());
  auto pct = [&](double p) {
    size_t i = static_cast<size_t>(p * static_cast<double>(r.latencies_us.size() - 1));
    return r.latencies_us[i];
  };
  return Summary{static_cast<double>(r.ops) / r.wall_seconds, pct(0.50), pct(0.99), r.ops};
}

}  // namespace
}  // namespace budstikke

int main(int argc, char** argv) {
  if (!budstikke::bench::RunBenchmarks(&argc, argv)) return 1;
  auto echo = budstikke::Summarize("echo");
  auto ask = budstikke::Summarize("ask");
  if (echo && ask) {
    std::printf(
        "\nconsult_bench summary (%d clients, mTLS):\n"
        "  echo: %.0f req/s  p50 %.0f us  p99 %.0f us  (%lld calls)\n"
        "  ask:  %.0f req/s  p50 %.0f us  p99 %.0f us  (%lld calls)\n"
        "  ask/echo throughput %.2f (target >= 0.60), p99 ratio %.2f (target <= 2.00)\n",
        budstikke::kClients, echo->ops_per_s, echo->p50, echo->p99,
        static_cast<long long>(echo->ops), ask->ops_per_s, ask->p50, ask->p99,
        static_cast<long long>(ask->ops), ask->ops_per_s / echo->ops_per_s, ask->p99 / echo->p99);
  }
  // The Env (servers, store) is deliberately leaked at exit: gRPC's shutdown
  // order at static destruction is fragile. Remove the temp dir though.
  budstikke::bench::RemoveTempDir(budstikke::g_env);
  return 0;
}
