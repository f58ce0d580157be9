// DomainExecutor: a few dedicated threads that run the domain calls of the
// write-heavy unary RPCs (consultations, referrals), while gRPC's threads
// wait. The gRPC adapter authenticates on its own thread, then hands the
// domain call here and blocks until it is done:
//
//   auto result = common::RunOn(executor_, [&] { return desk_->Send(caller, req); });
//
// (Adapters do this through common::Unary, grpc_adapter.h.)
//
// Why: on whichever of gRPC's handler threads took the call, the domain code
// finds the caches cold; on a few dedicated threads it stays warm (measured
// in docs/PERFORMANCE.md, Consultations, third round).
//
// Calls run in arrival order; a call made from a worker thread runs inline
// (no deadlock when domain code nests), and so does a call made once the
// destructor has begun. Streaming RPCs do not use it: they block for their
// whole stream. The destructor finishes queued calls and joins the threads;
// it runs after the gRPC server has shut down.
#ifndef BUDSTIKKE_SERVICES_COMMON_DOMAIN_EXECUTOR_H_
#define BUDSTIKKE_SERVICES_COMMON_DOMAIN_EXECUTOR_H_

#include <deque>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/synchronization/mutex.h"

namespace budstikke::common {

class DomainExecutor {
 public:
  // `threads` >= 1 (values below are raised to 1).
  explicit DomainExecutor(int threads);
  ~DomainExecutor();
  DomainExecutor(const DomainExecutor&) = delete;
  DomainExecutor& operator=(const DomainExecutor&) = delete;

  // Threads for a server: half the CPUs this process may use (its affinity
  // mask, e.g. a container's cpuset; at least 1) when writes are not fsynced. With --sync-writes
  // each write waits for an fsync, and concurrent writes share one only if they are in flight
  // together, so there are as many threads as gRPC keeps for handlers (16).
  static int DefaultThreads(bool sync_writes);

  int threads() const { return static_cast<int>(workers_.size()); }

  // Runs `fn` on a worker thread and returns its result; the caller blocks
  // until it is done. Inline when called from one of this executor's threads.
  template <typename F>
  std::invoke_result_t<F&> Run(F&& fn) {
    using R = std::invoke_result_t<F&>;
    if (OnWorkerThread()) return fn();
    std::optional<R> out;
    Execute([&] { out.emplace(fn()); });
    return *std::move(out);
  }

 private:
  struct Task;
  bool OnWorkerThread() const;
  // Queues `task` and waits until a worker has run it.
  void Execute(absl::FunctionRef<void()> task);
  void WorkerLoop();

  absl::Mutex mu_;
  std::deque<Task*> queue_;  // guarded by mu_
  bool stopping_ = false;    // guarded by mu_
  std::vector<std::thread> workers_;
};

// Runs `fn` on `executor`, or inline if it is null (tests, tools).
template <typename F>
std::invoke_result_t<F&> RunOn(DomainExecutor* executor, F&& fn) {
  if (executor == nullptr) return fn();
  return executor->Run(std::forward<F>(fn));
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_DOMAIN_EXECUTOR_H_
