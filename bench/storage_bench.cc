// Storage benchmarks: encrypted put/get (Envelope with 2 reader agencies +
// Store) against raw RocksDB put/get with the same options. 1 KiB values,
// 2 threads (puts also 1 thread), items/s over wall-clock time. Each put run
// starts from flushed, compacted databases. See docs/PERFORMANCE.md.
//
//   storage_bench --benchmark_min_time=2 --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//   (one command line)
//   storage_bench --benchmark_min_time=0.01      # smoke run, a few seconds
//
// Issue 23 restates the target against incompressible values (what a sealed
// value is to RocksDB): BM_RawRocksDbPutIncompressible puts random 1 KiB
// values, and BM_OpenSslAes256Gcm is one AES-256-GCM encryption of 1 KiB with
// OpenSSL's EVP API (key schedule set once, fresh nonce and tag per value),
// the floor of BM_EnvelopeSealOnly. BM_RawRocksDbPutSync: 16 threads of fsynced
// puts, the reference beside target 2 (durable Send at 16 clients).
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "rocksdb/db.h"
#include "rocksdb/options.h"
#include "storage/envelope.h"
#include "storage/internal/rocksdb_options.h"
#include "storage/keyring.h"
#include "storage/secret_bytes.h"
#include "storage/store.h"

namespace {

using budstikke::storage::Envelope;
using budstikke::storage::Keyring;
using budstikke::storage::SecretBytes;
using budstikke::storage::Store;

constexpr size_t kValueSize = 1024;
constexpr uint64_t kKeySpace = 50000;  // puts overwrite, so the DB stays small
constexpr char kCf[] = "records";
const std::vector<std::string> kReaders = {"agency-a", "agency-b"};

struct Env {
  std::string root;
  std::unique_ptr<Store> store;
  std::unique_ptr<Keyring> keyring;
  std::unique_ptr<Envelope> envelope;
  rocksdb::DB* raw = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> raw_handles;
  std::string value;
  std::string random_value;  // incompressible, same size
};
Env* g_env = nullptr;

std::string Key(const char* space, uint64_t i) {
  char buf[48];
  snprintf(buf, sizeof(buf), "%s/%012llu", space, static_cast<unsigned long long>(i % kKeySpace));
  return buf;
}

bool Setup() {
  auto* env = new Env;
  char tmpl[] = "/tmp/budstikke-storage-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return false;
  env->root = tmpl;
  env->value.resize(kValueSize);
  for (size_t i = 0; i < kValueSize; ++i) env->value[i] = static_cast<char>('a' + (i * 7) % 26);
  env->random_value.resize(kValueSize);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(env->random_value.data()), kValueSize) != 1) {
    return false;
  }

  std::vector<std::string> cfs = Keyring::ColumnFamilies();
  cfs.push_back(kCf);
  Store::Options store_options;
  store_options.column_families = cfs;
  auto store = Store::Open(env->root + "/enc", store_options);
  if (!store.ok()) return false;
  env->store = *std::move(store);
  auto master = SecretBytes::Random(32);
  if (!master.ok()) return false;
  auto keyring = Keyring::Create(*master, env->store.get());
  if (!keyring.ok()) return false;
  env->keyring = *std::move(keyring);
  for (const auto& a : kReaders) {
    if (!env->keyring->EnsureAgencyKey(a).ok()) return false;
  }
  auto envelope = Envelope::Create(env->keyring.get());
  if (!envelope.ok()) return false;
  env->envelope = *std::move(envelope);

  // Raw RocksDB with the options Store uses (one function for both).
  rocksdb::Options options =
      budstikke::storage::internal::StoreRocksDbOptions(Store::Options().block_cache_bytes);
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(options)},
      {kCf, rocksdb::ColumnFamilyOptions(options)}};
  if (!rocksdb::DB::Open(options, env->root + "/raw", descriptors, &env->raw_handles, &env->raw)
           .ok()) {
    return false;
  }

  // Data for the get benchmarks.
  for (uint64_t i = 0; i < kKeySpace; ++i) {
    std::string k = Key("get", i);
    if (!env->raw->Put(rocksdb::WriteOptions(), env->raw_handles[1], k, env->value).ok()) {
      return false;
    }
    auto sealed = env->envelope->Seal(kCf, k, env->value, kReaders);
    if (!sealed.ok() || !env->store->Put(kCf, k, *sealed).ok()) return false;
  }
  g_env = env;
  return true;
}

void Teardown() {
  if (g_env == nullptr) return;
  for (auto* h : g_env->raw_handles) g_env->raw->DestroyColumnFamilyHandle(h);
  delete g_env->raw;
  g_env->envelope.reset();
  g_env->keyring.reset();
  g_env->store.reset();
  std::error_code ec;
  std::filesystem::remove_all(g_env->root, ec);
  delete g_env;
  g_env = nullptr;
}

std::atomic<uint64_t> g_seq{0};

// Every put and get benchmark starts from flushed and fully compacted databases, so
// none inherits the compaction debt of the one before it (both DBs, so each
// run also starts with idle background threads). Runs in thread 0 before the
// timed loop; the other threads wait at the loop's start barrier.
void Quiesce(const benchmark::State& state) {
  if (state.thread_index() != 0) return;
  bool ok = g_env->store->CompactColumnFamily(kCf).ok();
  rocksdb::CompactRangeOptions cro;
  cro.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  ok = ok && g_env->raw->Flush(rocksdb::FlushOptions(), g_env->raw_handles[1]).ok() &&
       g_env->raw->CompactRange(cro, g_env->raw_handles[1], nullptr, nullptr).ok();
  if (!ok) fprintf(stderr, "storage_bench: compaction before a run failed\n");
}

void BM_RawRocksDbPut(benchmark::State& state) {
  Quiesce(state);
  rocksdb::WriteOptions wo;
  for (auto _ : state) {
    std::string k = Key("put", g_seq.fetch_add(1, std::memory_order_relaxed));
    rocksdb::Status s = g_env->raw->Put(wo, g_env->raw_handles[1], k, g_env->value);
    if (!s.ok()) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

// Raw puts of random values: each differs in its first 8 bytes too, so
// RocksDB cannot share anything between them.
void PutIncompressible(benchmark::State& state, const rocksdb::WriteOptions& wo) {
  Quiesce(state);
  std::string value = g_env->random_value;
  for (auto _ : state) {
    const uint64_t seq = g_seq.fetch_add(1, std::memory_order_relaxed);
    std::memcpy(value.data(), &seq, sizeof seq);
    rocksdb::Status s = g_env->raw->Put(wo, g_env->raw_handles[1], Key("put", seq), value);
    if (!s.ok()) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

void BM_RawRocksDbPutIncompressible(benchmark::State& state) {
  PutIncompressible(state, rocksdb::WriteOptions());
}

// Durable puts (fsync of the WAL per write group) from 16 threads: the
// reference beside issue 23's target 2, what group commit can reach on this
// disk with RocksDB alone.
void BM_RawRocksDbPutSync(benchmark::State& state) {
  rocksdb::WriteOptions wo;
  wo.sync = true;
  PutIncompressible(state, wo);
}

void BM_StorePlainPut(benchmark::State& state) {
  Quiesce(state);
  for (auto _ : state) {
    std::string k = Key("plain", g_seq.fetch_add(1, std::memory_order_relaxed));
    if (!g_env->store->Put(kCf, k, g_env->value).ok()) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

void BM_EncryptedPut(benchmark::State& state) {
  Quiesce(state);
  for (auto _ : state) {
    std::string k = Key("put", g_seq.fetch_add(1, std::memory_order_relaxed));
    auto sealed = g_env->envelope->Seal(kCf, k, g_env->value, kReaders);
    if (!sealed.ok() || !g_env->store->Put(kCf, k, *sealed).ok()) {
      state.SkipWithError("encrypted put failed");
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

void BM_RawRocksDbGet(benchmark::State& state) {
  Quiesce(state);
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7919;
  std::string value;
  for (auto _ : state) {
    std::string k = Key("get", i += 104729);
    rocksdb::Status s = g_env->raw->Get(rocksdb::ReadOptions(), g_env->raw_handles[1], k, &value);
    if (!s.ok() || value.size() != kValueSize) state.SkipWithError("get failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

void BM_EncryptedGet(benchmark::State& state) {
  Quiesce(state);
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7919;
  const std::string& reader = kReaders[state.thread_index() % 2];
  for (auto _ : state) {
    std::string k = Key("get", i += 104729);
    auto stored = g_env->store->Get(kCf, k);
    if (!stored.ok()) {
      state.SkipWithError("get failed");
      break;
    }
    auto plain = g_env->envelope->Open(kCf, k, *stored, reader);
    if (!plain.ok() || plain->size() != kValueSize) state.SkipWithError("open failed");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

// Crypto only (no Store): where the encrypted-put overhead comes from.
void BM_EnvelopeSealOnly(benchmark::State& state) {
  for (auto _ : state) {
    auto sealed = g_env->envelope->Seal(kCf, "k/000000000001", g_env->value, kReaders);
    benchmark::DoNotOptimize(sealed);
  }
  state.SetItemsProcessed(state.iterations());
}

// AES-256-GCM of one value with EVP, as `openssl speed -evp aes-256-gcm`
// measures it: cipher fetched and key schedule set once, per value a new
// nonce, the encryption and the tag.
void BM_OpenSslAes256Gcm(benchmark::State& state) {
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  unsigned char key[32];
  unsigned char nonce[12] = {0};
  bool ok = cipher != nullptr && ctx != nullptr && RAND_bytes(key, sizeof key) == 1 &&
            EVP_EncryptInit_ex2(ctx, cipher, key, nullptr, nullptr) == 1;
  std::string out(kValueSize + 16, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  const auto* in = reinterpret_cast<const unsigned char*>(g_env->value.data());
  uint64_t n = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    std::memcpy(nonce, &++n, sizeof n);
    int len = 0, tail = 0;
    ok = ok && EVP_EncryptInit_ex2(ctx, nullptr, nullptr, nonce, nullptr) == 1 &&
         EVP_EncryptUpdate(ctx, o, &len, in, kValueSize) == 1 &&
         EVP_EncryptFinal_ex(ctx, o + len, &tail) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, o + kValueSize) == 1;
    benchmark::DoNotOptimize(out.data());
  }
  if (!ok) state.SkipWithError("AES-256-GCM failed");
  EVP_CIPHER_CTX_free(ctx);
  EVP_CIPHER_free(cipher);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * kValueSize);
}

BENCHMARK(BM_RawRocksDbPut)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RawRocksDbPutIncompressible)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RawRocksDbPutSync)->Threads(16)->UseRealTime();
BENCHMARK(BM_StorePlainPut)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_EncryptedPut)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RawRocksDbGet)->Threads(2)->UseRealTime();
BENCHMARK(BM_EncryptedGet)->Threads(2)->UseRealTime();
BENCHMARK(BM_EnvelopeSealOnly)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_OpenSslAes256Gcm)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!Setup()) {
    fprintf(stderr, "storage_bench: setup failed\n");
    Teardown();
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  Teardown();
  return 0;
}
