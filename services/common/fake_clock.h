// Test double for Clock: time moves only when the test says so (or, with
// SetStepPerReading, by a fixed step at every reading).
#ifndef BUDSTIKKE_SERVICES_COMMON_FAKE_CLOCK_H_
#define BUDSTIKKE_SERVICES_COMMON_FAKE_CLOCK_H_

#include "absl/synchronization/mutex.h"
#include "services/common/clock.h"

namespace budstikke::common {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    const absl::Time t = now_;
    now_ += step_;
    return t;
  }
  // From now on every reading moves the clock on by `step` (default zero):
  // for code that must read the clock once per decision.
  void SetStepPerReading(absl::Duration step) {
    absl::MutexLock lock(&mu_);
    step_ = step;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }

 private:
  mutable absl::Mutex mu_;
  mutable absl::Time now_;
  absl::Duration step_ = absl::ZeroDuration();
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_FAKE_CLOCK_H_
