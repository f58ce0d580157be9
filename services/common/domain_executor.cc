#include "services/common/domain_executor.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "absl/synchronization/notification.h"
#include "services/common/server_threads.h"

namespace budstikke::common {
namespace {

thread_local const DomainExecutor* current_executor = nullptr;

}  // namespace

struct DomainExecutor::Task {
  absl::FunctionRef<void()> fn;
  absl::Notification done;
};

DomainExecutor::DomainExecutor(int threads) {
  const int n = std::max(1, threads);
  workers_.reserve(n);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

DomainExecutor::~DomainExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : workers_) t.join();
}

int DomainExecutor::DefaultThreads(bool sync_writes) {
  if (sync_writes) return kMaxPollers;
  // The CPUs this process may run on (a container's cpuset), not the machine's.
  int cores = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  if (cores <= 0) cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / 2);
}

bool DomainExecutor::OnWorkerThread() const { return current_executor == this; }

void DomainExecutor::Execute(absl::FunctionRef<void()> fn) {
  Task task{fn, {}};
  bool queued = false;
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(&task);
      queued = true;
    }
  }
  if (!queued) {
    // The destructor has begun and the workers may be gone: run the call
    // here rather than wait forever.
    fn();
    return;
  }
  // Notification's destructor waits for Notify() to return, so `task` may
  // leave scope as soon as the wait is over.
  task.done.WaitForNotification();
}

void DomainExecutor::WorkerLoop() {
  current_executor = this;
  // Shown by `top -H` and perf; at most 15 characters.
  pthread_setname_np(pthread_self(), "budstikke-dom");
  for (;;) {
    Task* task = nullptr;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](DomainExecutor* e) { return e->stopping_ || !e->queue_.empty(); }, this));
      if (queue_.empty()) return;  // stopping, and every queued call has run
      task = queue_.front();
      queue_.pop_front();
    }
    task->fn();
    task->done.Notify();
  }
}

}  // namespace budstikke::common
