// Paired slices: a throughput ratio that the VM's drift moves less.
//
// On the 2-vCPU VMs we measure on, the same binary's echo rate moves by
// +-20% from one run to the next (another tenant's load, hypervisor steal),
// and a Send run of 3 s can land in a slow stretch while its echo run landed
// in a fast one. The ratio of two medians taken over separate runs spread
// from 0.46 to 0.70 over the sessions, and from 0.58 to 0.65 within one
// session for one binary (docs/PERFORMANCE.md, Referrals).
//
// RunPairs measures the baseline and the candidate in short slices that
// follow each other (B C, C B, B C, ...: each goes first in half the pairs),
// takes the ratio within each pair, where both saw about the same machine,
// and reports the median of those ratios with their spread.
//
// Not thread-safe; call from one thread (the benchmark's main).
#ifndef BUDSTIKKE_BENCH_PAIRED_H_
#define BUDSTIKKE_BENCH_PAIRED_H_

#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <utility>
#include <vector>

namespace budstikke::bench {

// One client's call; returns false on a failed call (the slice stops).
using Call = std::function<bool()>;
// Sets up client `index` (its own connection, warmed) and returns its call.
using ClientFactory = std::function<Call(int index)>;

struct Slice {
  int64_t ops = 0;
  double wall_seconds = 0;
  double cpu_seconds = 0;  // the whole process (server, clients, RocksDB)
  bool failed = false;
  double rate() const { return wall_seconds > 0 ? static_cast<double>(ops) / wall_seconds : 0; }
  double cpu_us_per_call() const {
    return ops > 0 ? cpu_seconds * 1e6 / static_cast<double>(ops) : 0;
  }
};

inline double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// `clients` threads, each set up by `factory` before the clock starts, call
// for `seconds` of wall time.
inline Slice RunSlice(int clients, double seconds, const ClientFactory& factory) {
  std::vector<Call> calls;
  calls.reserve(clients);
  for (int i = 0; i < clients; ++i) calls.push_back(factory(i));
  std::atomic<int64_t> ops{0};
  std::atomic<bool> failed{false};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  threads.reserve(clients);
  using Clock = std::chrono::steady_clock;
  Clock::time_point deadline;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      int64_t n = 0;
      while (Clock::now() < deadline) {
        if (!calls[i]()) {
          failed = true;
          break;
        }
        ++n;
      }
      ops += n;
    });
  }
  Slice s;
  const Clock::time_point start = Clock::now();
  deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const double cpu_start = ProcessCpuSeconds();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  s.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  s.cpu_seconds = ProcessCpuSeconds() - cpu_start;
  s.ops = ops.load();
  s.failed = failed.load();
  return s;
}

struct PairedResult {
  std::vector<double> ratios;  // candidate rate / baseline rate, one per pair
  std::vector<Slice> baseline, candidate;
  bool failed = false;
};

inline double MedianOf(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Medians over one side's slices: throughput and process CPU per call.
inline double MedianRate(const std::vector<Slice>& slices) {
  std::vector<double> v;
  for (const Slice& s : slices) v.push_back(s.rate());
  return MedianOf(std::move(v));
}
inline double MedianCpuUsPerCall(const std::vector<Slice>& slices) {
  std::vector<double> v;
  for (const Slice& s : slices) v.push_back(s.cpu_us_per_call());
  return MedianOf(std::move(v));
}

// `pairs` pairs of `seconds`-long slices of `baseline` and `candidate`.
inline PairedResult RunPairs(int pairs, int clients, double seconds, const ClientFactory& baseline,
                             const ClientFactory& candidate) {
  PairedResult r;
  for (int p = 0; p < pairs && !r.failed; ++p) {
    Slice b, c;
    if (p % 2 == 0) {
      b = RunSlice(clients, seconds, baseline);
      c = RunSlice(clients, seconds, candidate);
    } else {
      c = RunSlice(clients, seconds, candidate);
      b = RunSlice(clients, seconds, baseline);
    }
    r.failed = b.failed || c.failed || b.ops == 0 || c.ops == 0;
    r.baseline.push_back(b);
    r.candidate.push_back(c);
    if (!r.failed) r.ratios.push_back(c.rate() / b.rate());
  }
  return r;
}

}  // namespace budstikke::bench

#endif  // BUDSTIKKE_BENCH_PAIRED_H_
