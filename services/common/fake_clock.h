// Test double for Clock: time moves only when the test says so.
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
    return now_;
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
  absl::Time now_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_FAKE_CLOCK_H_
