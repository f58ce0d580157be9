// DomainExecutor: calls run on its threads, in order, nest without deadlock,
// and return whatever the call returns.
#include "services/common/domain_executor.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace budstikke::common {
namespace {

TEST(DomainExecutorTest, RunsTheCallOnAWorkerThreadAndReturnsItsResult) {
  DomainExecutor executor(1);
  EXPECT_EQ(executor.threads(), 1);
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  absl::StatusOr<std::unique_ptr<int>> r =
      executor.Run([&]() -> absl::StatusOr<std::unique_ptr<int>> {
        ran_on = std::this_thread::get_id();
        return std::make_unique<int>(42);
      });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 42);
  EXPECT_NE(ran_on, caller);
  char name[16] = {};
  executor.Run([&] { return pthread_getname_np(pthread_self(), name, sizeof name); });
  EXPECT_STREQ(name, "budstikke-dom");
  absl::StatusOr<int> err =
      executor.Run([]() -> absl::StatusOr<int> { return absl::NotFoundError("no such id"); });
  EXPECT_EQ(err.status(), absl::NotFoundError("no such id"));
}

TEST(DomainExecutorTest, ACallFromAWorkerRunsInlineInsteadOfDeadlocking) {
  DomainExecutor executor(1);
  std::atomic<int> inner{0};
  absl::Notification finished;
  // On a helper thread, so that a deadlock fails the test instead of hanging it.
  std::thread caller([&] {
    inner = executor.Run([&] {
      const std::thread::id outer = std::this_thread::get_id();
      return executor.Run([&] { return std::this_thread::get_id() == outer ? 7 : -1; });
    });
    finished.Notify();
  });
  ASSERT_TRUE(finished.WaitForNotificationWithTimeout(absl::Seconds(10))) << "deadlock";
  caller.join();
  EXPECT_EQ(inner.load(), 7);
}

TEST(DomainExecutorTest, ManyCallersOneThreadNoCallOverlapsAndAllComplete) {
  DomainExecutor executor(1);
  std::atomic<int> running{0}, max_running{0};
  std::atomic<int> done{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 8; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        int v = executor.Run([&] {
          const int now = running.fetch_add(1) + 1;
          int seen = max_running.load();
          while (now > seen && !max_running.compare_exchange_weak(seen, now)) {
          }
          running.fetch_sub(1);
          return i;
        });
        if (v == i) ++done;
      }
    });
  }
  for (auto& c : callers) c.join();
  EXPECT_EQ(done.load(), 8 * 500);
  EXPECT_EQ(max_running.load(), 1);
}

TEST(DomainExecutorTest, SeveralThreadsRunCallsInParallel) {
  DomainExecutor executor(2);
  EXPECT_EQ(executor.threads(), 2);
  // Two calls that each wait for the other can only both see the other if
  // they run at once; each gives up after 10 s, so a failure does not hang.
  std::atomic<int> arrived{0};
  auto meet = [&] {
    arrived.fetch_add(1);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (arrived.load() < 2 && absl::Now() < deadline) std::this_thread::yield();
    return arrived.load() == 2;
  };
  bool a = false;
  std::thread other([&] { a = executor.Run(meet); });
  bool b = executor.Run(meet);
  other.join();
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
}

TEST(DomainExecutorTest, DefaultThreadsAndLowerBound) {
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  EXPECT_EQ(DomainExecutor::DefaultThreads(false), std::max(1, CPU_COUNT(&set) / 2));
  EXPECT_EQ(DomainExecutor::DefaultThreads(true), 16);
  DomainExecutor executor(0);
  EXPECT_EQ(executor.threads(), 1);
  EXPECT_EQ(executor.Run([] { return 3; }), 3);
}

TEST(RunOnTest, NullExecutorRunsInline) {
  const std::thread::id caller = std::this_thread::get_id();
  EXPECT_TRUE(RunOn(nullptr, [&] { return std::this_thread::get_id() == caller; }));
}

}  // namespace
}  // namespace budstikke::common
