// RateLimiter: calls per second per caller, as token buckets.
//
// Each key (a caller's SPIFFE ID) may make `per_second` calls a second on
// average and a burst of two seconds' worth at once. A call over the limit is
// refused with RateLimited(): RESOURCE_EXHAUSTED, rule "api.rate_limit", the
// wait until the next call would be allowed in the message ("retry in 0.25 s")
// and in ErrorDetails.retry_delay. Buckets of callers idle long enough to be
// full again are dropped, so memory follows the callers of the last seconds.
//
//   RateLimiter limiter(100, &clock);
//   if (auto wait = limiter.Take(caller.identity.spiffe_id)) return limiter.Refusal(*wait);
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_RATE_LIMITER_H_
#define BUDSTIKKE_SERVICES_COMMON_RATE_LIMITER_H_

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/clock.h"

namespace budstikke::common {

inline constexpr char kRuleRateLimit[] = "api.rate_limit";

class RateLimiter {
 public:
  // `per_second` > 0; `clock` must outlive the limiter.
  RateLimiter(int per_second, const Clock* clock);

  // Takes one call for `key`: nullopt if allowed, else how long until one
  // would be.
  std::optional<absl::Duration> Take(absl::string_view key);

  // The refusal of a call that must wait `wait`.
  absl::Status Refusal(absl::Duration wait) const;

  int per_second() const { return per_second_; }
  // How many callers have a bucket (for tests and metrics).
  size_t callers_tracked() const {
    absl::MutexLock lock(&mu_);
    return buckets_.size();
  }

 private:
  struct Bucket {
    double tokens;
    absl::Time at;
  };
  // Drops buckets that have refilled; called when the map has grown.
  void DropFullLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int per_second_;
  const double burst_;
  const Clock* clock_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  size_t next_sweep_ ABSL_GUARDED_BY(mu_) = 1024;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_RATE_LIMITER_H_
