// tlog benchmarks: client-side inclusion-proof verification and server-side
// proof generation from a MemoryTree. Results: docs/PERFORMANCE.md.
//
//   build/bin/tlog_bench --benchmark_min_time=0.5
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "tlog/tree.h"

namespace budstikke::tlog {
namespace {

// One tree per size per process. Leaf hashes are synthetic (the counter
// bytes), so building the 1M tree costs only its ~1M node hashes.
const MemoryTree& TreeOfSize(uint64_t n) {
  static auto* trees = new std::map<uint64_t, std::unique_ptr<MemoryTree>>();
  auto& tree = (*trees)[n];
  if (tree == nullptr) {
    tree = std::make_unique<MemoryTree>();
    for (uint64_t i = 0; i < n; ++i) {
      Hash leaf{};
      std::memcpy(leaf.data(), &i, sizeof i);
      tree->AppendLeafHash(leaf);
    }
  }
  return *tree;
}

Hash LeafAt(uint64_t i) {
  Hash leaf{};
  std::memcpy(leaf.data(), &i, sizeof i);
  return leaf;
}

struct Proof {
  uint64_t index;
  std::vector<Hash> path;
};

void BM_VerifyInclusion(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  const MemoryTree& tree = TreeOfSize(n);
  const Hash root = tree.Root();
  std::mt19937_64 rng(1);
  std::vector<Proof> proofs;
  for (int i = 0; i < 256; ++i) {
    uint64_t index = rng() % n;
    proofs.push_back(Proof{index, ProveInclusion(index, n, tree).value()});
  }
  size_t k = 0;
  for (auto _ : state) {
    const Proof& p = proofs[k++ % proofs.size()];
    Result<void> r = VerifyInclusion(p.index, n, LeafAt(p.index), p.path, root);
    if (!r.ok()) state.SkipWithError(r.error().message.c_str());
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["path_len"] = static_cast<double>(proofs[0].path.size());
}
BENCHMARK(BM_VerifyInclusion)->Arg(1000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

void BM_ProveInclusion(benchmark::State& state) {
  const uint64_t n = static_cast<uint64_t>(state.range(0));
  const MemoryTree& tree = TreeOfSize(n);
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    Result<std::vector<Hash>> p = ProveInclusion(rng() % n, n, tree);
    benchmark::DoNotOptimize(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ProveInclusion)->Arg(1000)->Arg(1000000)->Unit(benchmark::kMicrosecond);

void BM_Append(benchmark::State& state) {
  MemoryTree tree;
  uint64_t i = 0;
  for (auto _ : state) tree.AppendLeafHash(LeafAt(i++));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Append)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace budstikke::tlog

BENCHMARK_MAIN();
