// Audit log benchmarks (issue #4). Results: docs/PERFORMANCE.md "## Audit log".
//
//   build/bin/audit_bench --benchmark_min_time=0.5
//
// Measured in one run on the same machine:
//   BM_RawRocksDbBatchWrite     baseline: raw RocksDB WriteBatch of 400-byte puts
//   BM_AuditAppend/<batch>      sustained append, end to end: the services'
//                               outbox writes (one WriteBatch) + the drainer's
//                               group commit into the Merkle log
//   BM_CheckpointLatency        time from an event's outbox write to the first
//                               signed checkpoint covering it, under load
//   BM_InclusionProof/<leaves>  MerkleLog::InclusionProof at that tree size
//   BM_QueryBySubject           AuditLog::Query by subject, 1,000 hits with
//                               inclusion proofs, over the query log (built,
//                               then compacted once, then queried: first_ms
//                               is the first query after the open, p50/p99
//                               the repeats)
//   BM_VerifyQueryProofs        SDK VerifyRecords of those 1,000 records
// Percentile counters (p50_ms, p99_ms) come from per-operation timings.
//
// Sizes: the query log holds BUDSTIKKE_AUDIT_BENCH_EVENTS events (default
// 1,000,000; 20,000 when --benchmark_min_time < 0.1, the CI smoke run);
// proof sizes come from BUDSTIKKE_AUDIT_BENCH_PROOF_SIZES (comma list, default
// "100000,1000000,4000000"; "20000" in smoke runs). Built logs are cached under
// /tmp/budstikke-audit-bench/ (delete it to rebuild); build times are printed.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "budstikke/audit_verify.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"
#include "services/audit/audit_log.h"
#include "services/common/clock.h"
#include "services/common/store_audit_outbox.h"
#include "storage/internal/rocksdb_options.h"
#include "storage/merkle_log.h"
#include "storage/store.h"
#include "tlog/checkpoint.h"
#include "tlog/internal/test_keys.h"
#include "tlog/note.h"

namespace budstikke::audit {
namespace {

using Clock = std::chrono::steady_clock;

bool g_smoke = false;
const std::string kCacheRoot = "/tmp/budstikke-audit-bench";

template <typename T>
T Must(absl::StatusOr<T> v) {
  if (!v.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", v.status().ToString().c_str());
    std::abort();
  }
  return *std::move(v);
}
void MustOk(const absl::Status& s) {
  if (!s.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", s.ToString().c_str());
    std::abort();
  }
}

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : def;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

void ReportPercentiles(benchmark::State& state, const std::vector<double>& ms) {
  state.counters["p50_ms"] = Percentile(ms, 0.50);
  state.counters["p99_ms"] = Percentile(ms, 0.99);
  state.counters["max_ms"] = Percentile(ms, 1.0);
}

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

const tlog::Signer& TheSigner() {
  static const tlog::Signer* signer =
      tlog::Signer::FromPem("budstikke.bench/audit", tlog::tlog_internal::Ed25519PemFromSeed(
                                                         tlog::tlog_internal::FilledSeed(3)))
          .value()
          .release();
  return *signer;
}

std::string Hex64(uint64_t v) {
  // A 64-hex-digit stand-in for a subject pseudonym.
  static const char* kDigits = "0123456789abcdef";
  std::string s(64, '0');
  uint64_t x = v * 0x9e3779b97f4a7c15ULL + 1;
  for (int i = 0; i < 64; ++i) {
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ULL;
    s[i] = kDigits[x & 15];
  }
  return s;
}

const std::string& QuerySubject() {
  static const std::string s = Hex64(~0ULL);
  return s;
}

v1::AuditEvent MakeEvent(uint64_t i, const std::string& subject) {
  v1::AuditEvent e;
  e.set_action("referral.read");
  e.mutable_resource()->set_kind(v1::RESOURCE_KIND_REFERRAL);
  e.mutable_resource()->set_id("ref-" + std::to_string(i));
  e.set_subject(subject);
  e.set_legal_basis(v1::LEGAL_BASIS_CONSENT);
  e.set_consent_id("consent-" + std::to_string(i / 7));
  e.set_request_id("req-" + std::to_string(i));
  return e;
}

common::Caller Clinician() {
  common::Caller c;
  c.identity.agency = "bup-oslo";
  c.identity.role = v1::ROLE_CLINICIAN;
  c.identity.user = "terapeut1";
  return c;
}

// A store + audit log + outbox in `path`.
struct AuditEnv {
  common::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<AuditLog> log;
  std::unique_ptr<common::StoreAuditOutbox> outbox;

  static std::unique_ptr<AuditEnv> Open(const std::string& path, AuditLogOptions options = {}) {
    auto env = std::make_unique<AuditEnv>();
    storage::Store::Options o;
    o.column_families = AuditLog::ColumnFamilies();
    env->store = Must(storage::Store::Open(path, o));
    env->log = Must(AuditLog::Create(env->store.get(), &TheSigner(), &env->clock, options));
    env->outbox = Must(common::StoreAuditOutbox::Create(env->store.get(), &env->clock));
    return env;
  }

  // What the services do: `n` events in one WriteBatch through the outbox.
  void WriteEvents(uint64_t first, uint64_t n,
                   const std::function<std::string(uint64_t)>& subject) {
    storage::WriteBatch batch;
    const common::Caller who = Clinician();
    for (uint64_t i = first; i < first + n; ++i) {
      MustOk(outbox->Add(&batch, who, MakeEvent(i, subject(i))));
    }
    MustOk(store->Write(std::move(batch)));
  }
};

std::string FreshDir(const std::string& name) {
  std::string path = kCacheRoot + "/" + name;
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(kCacheRoot);
  return path;
}

// ---- baseline ----

void BM_RawRocksDbBatchWrite(benchmark::State& state) {
  const int batch_size = static_cast<int>(state.range(0));
  const std::string path = FreshDir("raw");
  rocksdb::Options options =
      storage::internal::StoreRocksDbOptions(storage::Store::Options().block_cache_bytes);
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  if (!rocksdb::DB::Open(options, path, &raw).ok()) {
    state.SkipWithError("cannot open rocksdb");
    return;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  const std::string value(400, 'v');
  uint64_t key = 0;
  for (auto _ : state) {
    rocksdb::WriteBatch wb;
    for (int i = 0; i < batch_size; ++i, ++key) {
      char k[8];
      for (int b = 0; b < 8; ++b) k[b] = static_cast<char>(key >> (56 - 8 * b));
      wb.Put(rocksdb::Slice(k, 8), value);
    }
    if (!db->Write(rocksdb::WriteOptions(), &wb).ok()) state.SkipWithError("write failed");
  }
  state.SetItemsProcessed(state.iterations() * batch_size);
  db->Close().PermitUncheckedError();
}
BENCHMARK(BM_RawRocksDbBatchWrite)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- sustained append ----

void BM_AuditAppend(benchmark::State& state) {
  const uint64_t batch = static_cast<uint64_t>(state.range(0));
  auto env = AuditEnv::Open(FreshDir("append"));
  uint64_t next = 0;
  for (auto _ : state) {
    env->WriteEvents(next, batch, [](uint64_t i) { return Hex64(i % 50000); });
    next += batch;
    uint64_t drained = 0;
    while (drained < batch) drained += static_cast<uint64_t>(Must(env->log->DrainOnce()));
  }
  state.SetItemsProcessed(static_cast<int64_t>(next));
  state.counters["log_size"] = static_cast<double>(env->log->size());
}
BENCHMARK(BM_AuditAppend)->Arg(256)->Arg(4096)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- checkpoint latency ----

void BM_CheckpointLatency(benchmark::State& state) {
  AuditLogOptions options;  // production defaults (checkpoint every 500 ms)
  auto env = AuditEnv::Open(FreshDir("checkpoint"), options);

  env->log->Start();
  // Background load: ~5,000 events/s in batches of 50.
  std::atomic<bool> stop{false};
  std::thread load([&] {
    uint64_t i = uint64_t{1} << 40;
    while (!stop.load()) {
      env->WriteEvents(i, 50, [](uint64_t k) { return Hex64(k % 50000); });
      i += 50;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  std::vector<double> ms;
  std::mt19937 rng(5);
  uint64_t probe = 0;
  for (auto _ : state) {
    // Spread the samples over the checkpoint period.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 100));
    uint64_t scan = env->log->size();
    const std::string id = "ref-" + std::to_string(++probe);
    const auto t0 = Clock::now();
    env->WriteEvents(probe, 1, [](uint64_t) { return QuerySubject(); });
    // Find the probe's index as the drainer appends it, then wait for a
    // checkpoint that covers it.
    uint64_t index = UINT64_MAX;
    while (index == UINT64_MAX) {
      for (const uint64_t size = env->log->size(); scan < size; ++scan) {
        auto e = env->log->GetEvent(scan);
        if (e.ok() && e->event().subject() == QuerySubject() && e->event().resource().id() == id) {
          index = scan;
          break;
        }
      }
      if (index == UINT64_MAX) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    while (true) {
      auto cp = env->log->LatestCheckpoint();
      if (cp.ok() && cp->tree_size() > index) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ms.push_back(MsSince(t0));
  }
  stop.store(true);
  load.join();
  env->log->Stop();
  ReportPercentiles(state, ms);
}

// ---- inclusion proofs ----

// A MerkleLog of `n` 100-byte leaves, built directly (cached on disk).
struct ProofLog {
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::MerkleLog> tree;
};

ProofLog& ProofLogOfSize(uint64_t n) {
  static auto* logs = new std::map<uint64_t, ProofLog>();
  ProofLog& pl = (*logs)[n];
  if (pl.tree) return pl;
  const std::string path = kCacheRoot + "/proof-" + std::to_string(n);
  storage::Store::Options o;
  o.column_families = storage::MerkleLog::ColumnFamilies();
  std::filesystem::create_directories(kCacheRoot);
  pl.store = Must(storage::Store::Open(path, o));
  pl.tree = Must(storage::MerkleLog::Open(pl.store.get()));
  if (pl.tree->size() != n) {
    if (pl.tree->size() > n) std::abort();
    const auto t0 = Clock::now();
    const uint64_t from = pl.tree->size();
    std::string leaf(100, 'x');
    for (uint64_t i = from; i < n;) {
      const uint64_t k = std::min<uint64_t>(10000, n - i);
      std::vector<std::string> leaves;
      leaves.reserve(k);
      for (uint64_t j = 0; j < k; ++j, ++i) {
        std::memcpy(leaf.data(), &i, sizeof i);
        leaves.push_back(leaf);
      }
      storage::WriteBatch batch;
      Must(pl.tree->PrepareAppend(leaves, &batch));
      MustOk(pl.store->Write(std::move(batch)));
      pl.tree->Commit();
    }
    MustOk(pl.store->Flush());
    std::fprintf(stderr, "audit_bench: built a %llu-leaf proof log in %.1f s\n",
                 static_cast<unsigned long long>(n), MsSince(t0) / 1000);
  }
  return pl;
}

void BM_InclusionProof(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  ProofLog& pl = ProofLogOfSize(n);
  std::mt19937_64 rng(11);
  std::vector<double> ms;
  for (auto _ : state) {
    const uint64_t index = rng() % n;
    const auto t0 = Clock::now();
    auto proof = pl.tree->InclusionProof(index, n);
    ms.push_back(MsSince(t0));
    if (!proof.ok()) state.SkipWithError(std::string(proof.status().message()).c_str());
    benchmark::DoNotOptimize(proof);
  }
  ReportPercentiles(state, ms);
}

std::vector<int64_t> ProofSizes() {
  const char* env = std::getenv("BUDSTIKKE_AUDIT_BENCH_PROOF_SIZES");
  std::string spec =
      env != nullptr && *env != '\0' ? env : (g_smoke ? "20000" : "100000,1000000,4000000");
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    out.push_back(std::strtoll(spec.substr(pos, comma - pos).c_str(), nullptr, 10));
    pos = comma + 1;
  }
  return out;
}

// ---- query by subject ----

// The query log: `n` events, 1,000 of them (evenly spread) about QuerySubject(),
// the rest about 50,000 other children; built through the outbox and the
// drainer like production (cached on disk).
AuditEnv& QueryEnv() {
  static AuditEnv* env = [] {
    const uint64_t n = EnvOr("BUDSTIKKE_AUDIT_BENCH_EVENTS", g_smoke ? 20000 : 1000000);
    const std::string path = kCacheRoot + "/query-" + std::to_string(n);
    std::filesystem::create_directories(kCacheRoot);
    auto e = AuditEnv::Open(path);
    const std::string settled = path + "/settled";  // written once it is compacted
    if (e->log->size() != n) {
      e.reset();
      std::filesystem::remove_all(path);
      e = AuditEnv::Open(path);
      const uint64_t every = n / 1000;
      const auto t0 = Clock::now();
      for (uint64_t i = 0; i < n;) {
        const uint64_t k = std::min<uint64_t>(4096, n - i);
        e->WriteEvents(i, k, [every](uint64_t j) {
          return j % every == every / 2 ? QuerySubject() : Hex64(j % 50000);
        });
        i += k;
        // Like the drain thread: continue from the cursor (DrainAll would
        // rescan the outbox from its start every time).
        for (uint64_t drained = 0; drained < k;) {
          drained += static_cast<uint64_t>(Must(e->log->DrainOnce()));
        }
      }
      MustOk(e->store->Flush());
      std::fprintf(stderr,
                   "audit_bench: built a %llu-event query log in %.1f s (%.0f events/s, "
                   "outbox write + drain)\n",
                   static_cast<unsigned long long>(n), MsSince(t0) / 1000,
                   n / (MsSince(t0) / 1000));
    }
    if (!std::filesystem::exists(settled)) {
      // A log loaded in minutes leaves the compactions of months behind it;
      // queried at once, it measures those compactions on the other core.
      // Settle it first, as years of slow appends would have.
      const auto t1 = Clock::now();
      for (const std::string& cf : AuditLog::ColumnFamilies()) {
        MustOk(e->store->CompactColumnFamily(cf));
      }
      std::fprintf(stderr, "audit_bench: compacted it in %.1f s\n", MsSince(t1) / 1000);
      std::ofstream(settled) << "compacted\n";
    }
    Must(e->log->SignCheckpoint());
    return e.release();
  }();
  return *env;
}

v1::QueryAuditResponse QueryOnce(AuditEnv& env) {
  AuditFilter f;
  f.subject = QuerySubject();
  const uint64_t size = env.log->size();
  AuditPage page = Must(env.log->Query(f, size, size, 1000, ""));
  v1::QueryAuditResponse resp;
  for (auto& r : page.records) *resp.add_records() = std::move(r);
  return resp;
}

void BM_QueryBySubject(benchmark::State& state) {
  AuditEnv& env = QueryEnv();
  // The first query after the open reads its blocks from the files (the block
  // cache starts empty): reported on its own, not as the p99 of the repeats.
  const auto first = Clock::now();
  QueryOnce(env);
  state.counters["first_ms"] = MsSince(first);
  std::vector<double> ms;
  int hits = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    v1::QueryAuditResponse resp = QueryOnce(env);
    ms.push_back(MsSince(t0));
    hits = resp.records_size();
  }
  if (hits != 1000) state.SkipWithError("expected 1000 hits");
  state.counters["hits"] = hits;
  state.counters["log_size"] = static_cast<double>(env.log->size());
  ReportPercentiles(state, ms);
}

void BM_VerifyQueryProofs(benchmark::State& state) {
  AuditEnv& env = QueryEnv();
  const v1::QueryAuditResponse resp = QueryOnce(env);
  tlog::Checkpoint cp;
  cp.origin = TheSigner().name();
  cp.size = env.log->size();
  cp.root = Must(env.log->tree().Root(cp.size));
  for (auto _ : state) {
    absl::Status s = VerifyRecords(cp, resp.records(), std::nullopt);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * resp.records_size());
}
BENCHMARK(BM_VerifyQueryProofs)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace budstikke::audit

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const char* flag = "--benchmark_min_time=";
    if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0 &&
        std::atof(argv[i] + std::strlen(flag)) < 0.1) {
      budstikke::audit::g_smoke = true;
    }
  }
  benchmark::RegisterBenchmark("BM_CheckpointLatency", budstikke::audit::BM_CheckpointLatency)
      ->Iterations(budstikke::audit::g_smoke ? 2 : 40)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_QueryBySubject", budstikke::audit::BM_QueryBySubject)
      ->Iterations(budstikke::audit::g_smoke ? 1 : 50)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  for (int64_t n : budstikke::audit::ProofSizes()) {
    benchmark::RegisterBenchmark("BM_InclusionProof", budstikke::audit::BM_InclusionProof)
        ->Arg(n)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
