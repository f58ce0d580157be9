#include "services/common/stream_watchdog.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "services/common/fake_clock.h"

namespace budstikke::common {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

TEST(StreamWatchdogTest, AStepStillGoingAfterItsLimitIsCancelledOnce) {
  FakeClock clock(kStart);
  StreamWatchdog watchdog(&clock);
  int cancels = 0;
  StreamWatchdog::Step step(watchdog, absl::Seconds(60), [&] { ++cancels; });
  clock.Advance(absl::Seconds(59));
  watchdog.CancelExpired();
  EXPECT_EQ(cancels, 0);
  EXPECT_FALSE(step.expired());
  clock.Advance(absl::Seconds(1));
  watchdog.CancelExpired();
  watchdog.CancelExpired();
  EXPECT_EQ(cancels, 1);
  EXPECT_TRUE(step.expired());
}

TEST(StreamWatchdogTest, AStepThatEndedIsNeverCancelled) {
  FakeClock clock(kStart);
  StreamWatchdog watchdog(&clock);
  int cancels = 0;
  {
    StreamWatchdog::Step step(watchdog, absl::Seconds(60), [&] { ++cancels; });
    EXPECT_EQ(watchdog.watched(), 1u);
  }
  EXPECT_EQ(watchdog.watched(), 0u);
  clock.Advance(absl::Hours(1));
  watchdog.CancelExpired();
  EXPECT_EQ(cancels, 0);
}

TEST(StreamWatchdogTest, EachStepHasItsOwnDeadline) {
  FakeClock clock(kStart);
  StreamWatchdog watchdog(&clock);
  int first = 0, second = 0;
  StreamWatchdog::Step a(watchdog, absl::Seconds(10), [&] { ++first; });
  clock.Advance(absl::Seconds(5));
  StreamWatchdog::Step b(watchdog, absl::Seconds(10), [&] { ++second; });
  clock.Advance(absl::Seconds(5));
  watchdog.CancelExpired();
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 0);
  clock.Advance(absl::Seconds(5));
  watchdog.CancelExpired();
  EXPECT_EQ(second, 1);
}

TEST(StreamWatchdogTest, ItsThreadCancelsWithoutHelp) {
  SystemClock clock;
  StreamWatchdog watchdog(&clock, absl::Milliseconds(10));
  absl::Notification cancelled;
  StreamWatchdog::Step step(watchdog, absl::Milliseconds(20), [&] { cancelled.Notify(); });
  EXPECT_TRUE(cancelled.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(step.expired());
}

}  // namespace
}  // namespace budstikke::common
