#include "services/common/rate_limiter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/common/errors.h"

namespace budstikke::common {

RateLimiter::RateLimiter(int per_second, const Clock* clock)
    : per_second_(per_second), burst_(2.0 * per_second), clock_(clock) {}

std::optional<absl::Duration> RateLimiter::Take(absl::string_view key) {
  const absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = buckets_.try_emplace(key, Bucket{burst_, now});
  Bucket& b = it->second;
  const double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.at));
  b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
  b.at = now;
  std::optional<absl::Duration> wait;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
  } else {
    wait = absl::Seconds((1.0 - b.tokens) / per_second_);
  }
  if (inserted && buckets_.size() >= next_sweep_) DropFullLocked(now);
  return wait;
}

void RateLimiter::DropFullLocked(absl::Time now) {
  const absl::Duration refill = absl::Seconds(burst_ / per_second_);
  absl::erase_if(buckets_, [&](const auto& kv) { return now - kv.second.at >= refill; });
  next_sweep_ = std::max<size_t>(1024, 2 * buckets_.size());
}

absl::Status RateLimiter::Refusal(absl::Duration wait) const {
  return LimitRefusal(
      kRuleRateLimit,
      absl::StrCat("rate limit: at most ", per_second_, " calls per second per caller"), wait);
}

}  // namespace budstikke::common
