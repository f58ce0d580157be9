#include "services/common/rate_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "services/common/errors.h"
#include "services/common/fake_clock.h"

namespace budstikke::common {
namespace {

constexpr char kAlice[] = "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/alice";
constexpr char kBob[] = "spiffe://budstikke.test/agency/bup-oslo/role/clinician/user/bob";

TEST(RateLimiterTest, ABurstOfTwoSecondsThenTheRate) {
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  RateLimiter limiter(10, &clock);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(limiter.Take(kAlice), std::nullopt) << i;
  std::optional<absl::Duration> wait = limiter.Take(kAlice);
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(*wait, absl::Milliseconds(100));
  clock.Advance(absl::Milliseconds(100));
  EXPECT_EQ(limiter.Take(kAlice), std::nullopt);
  EXPECT_TRUE(limiter.Take(kAlice).has_value());
}

TEST(RateLimiterTest, EachCallerHasItsOwnBucket) {
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  RateLimiter limiter(1, &clock);
  EXPECT_EQ(limiter.Take(kAlice), std::nullopt);
  EXPECT_EQ(limiter.Take(kAlice), std::nullopt);
  EXPECT_EQ(limiter.Take(kAlice), absl::Seconds(1));
  EXPECT_EQ(limiter.Take(kBob), std::nullopt);  // alice's calls do not count for bob
}

TEST(RateLimiterTest, CallersIdleUntilFullAreDropped) {
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  RateLimiter limiter(1, &clock);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(limiter.Take(absl::StrCat("old-", i)), std::nullopt);
  EXPECT_EQ(limiter.callers_tracked(), 5000u);
  clock.Advance(absl::Seconds(2));  // every old bucket is full again
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(limiter.Take(absl::StrCat("new-", i)), std::nullopt);
  // The sweep at 8192 buckets dropped the 5000 old ones.
  EXPECT_EQ(limiter.callers_tracked(), 5000u);
  // A dropped caller starts full: its whole burst again.
  EXPECT_EQ(limiter.Take("old-0"), std::nullopt);
  EXPECT_EQ(limiter.Take("old-0"), std::nullopt);
  EXPECT_EQ(limiter.Take("old-0"), absl::Seconds(1));
}

TEST(RateLimiterTest, TheRefusalSaysHowLongToWait) {
  FakeClock clock(absl::FromUnixSeconds(1800000000));
  RateLimiter limiter(4, &clock);
  const absl::Status s = limiter.Refusal(absl::Microseconds(250001));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "rate limit: at most 4 calls per second per caller; retry in 0.251 s");
  std::optional<v1::ErrorDetails> details = GetErrorDetails(s);
  ASSERT_TRUE(details.has_value());
  ASSERT_EQ(details->violations_size(), 1);
  EXPECT_EQ(details->violations(0).rule(), "api.rate_limit");
  EXPECT_EQ(details->violations(0).description(), s.message());
  EXPECT_EQ(details->retry_delay().seconds(), 0);
  EXPECT_EQ(details->retry_delay().nanos(), 251000000);
}

}  // namespace
}  // namespace budstikke::common
