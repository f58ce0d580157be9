// Clock: the source of "now" for domain code, injected so tests control time.
// Thread-safe implementations only.
#ifndef BUDSTIKKE_SERVICES_COMMON_CLOCK_H_
#define BUDSTIKKE_SERVICES_COMMON_CLOCK_H_

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace budstikke::common {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// Wall-clock time.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_CLOCK_H_
