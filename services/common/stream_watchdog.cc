#include "services/common/stream_watchdog.h"

#include <atomic>
#include <utility>

namespace budstikke::common {
namespace {

std::atomic<int64_t> step_limit_ms{30'000};

}  // namespace

absl::Duration StreamStepLimit() { return absl::Milliseconds(step_limit_ms.load()); }

void SetStreamStepLimit(absl::Duration limit) {
  step_limit_ms.store(absl::ToInt64Milliseconds(limit));
}

StreamWatchdog::StreamWatchdog(const Clock* clock) : clock_(clock) {}

StreamWatchdog::StreamWatchdog(const Clock* clock, absl::Duration tick) : clock_(clock) {
  thread_ = std::thread([this, tick] { Loop(tick); });
}

StreamWatchdog::~StreamWatchdog() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

StreamWatchdog& StreamWatchdog::Default() {
  static const SystemClock* clock = new SystemClock();
  static StreamWatchdog* watchdog = new StreamWatchdog(clock, absl::Seconds(1));
  return *watchdog;
}

void StreamWatchdog::Loop(absl::Duration tick) {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stop_), tick)) {
    mu_.Unlock();
    CancelExpired();
    mu_.Lock();
  }
}

void StreamWatchdog::CancelExpired() {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (auto& [id, entry] : steps_) {
    if (now < entry.deadline || entry.expired->load()) continue;
    entry.expired->store(true);
    // Under the lock: the Step (and the call it watches) cannot end meanwhile.
    entry.cancel();
  }
}

size_t StreamWatchdog::watched() const {
  absl::MutexLock lock(&mu_);
  return steps_.size();
}

StreamWatchdog::Step::Step(StreamWatchdog& watchdog, absl::Duration limit,
                           std::function<void()> cancel)
    : watchdog_(watchdog) {
  const absl::Time deadline = watchdog.clock_->Now() + limit;
  absl::MutexLock lock(&watchdog.mu_);
  id_ = watchdog.next_id_++;
  watchdog.steps_.emplace(id_, Entry{deadline, std::move(cancel), &expired_});
}

StreamWatchdog::Step::~Step() {
  absl::MutexLock lock(&watchdog_.mu_);
  watchdog_.steps_.erase(id_);
}

}  // namespace budstikke::common
