#include "services/common/stream_slots.h"

#include <optional>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/errors.h"

namespace budstikke::common {
namespace {

Caller Person(const std::string& agency, const std::string& user) {
  Caller c;
  c.identity.agency = agency;
  c.identity.user = user;
  return c;
}

TEST(StreamSlotsTest, EachCapRefusesWithItsOwnMessage) {
  StreamSlots slots({.total = 4, .per_agency = 3, .per_caller = 2}, "inbox.subscriptions",
                    "inbox streams");
  std::vector<StreamSlots::Slot> held;
  for (int i = 0; i < 2; ++i) held.push_back(*slots.Acquire(Person("bup-oslo", "kari")));
  absl::StatusOr<StreamSlots::Slot> s = slots.Acquire(Person("bup-oslo", "kari"));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.status().message(), "at most 2 inbox streams at once per caller; retry in 1 s");
  std::optional<v1::ErrorDetails> details = GetErrorDetails(s.status());
  ASSERT_TRUE(details.has_value());
  EXPECT_EQ(details->violations(0).rule(), "inbox.subscriptions");
  EXPECT_EQ(details->retry_delay().seconds(), 1);

  held.push_back(*slots.Acquire(Person("bup-oslo", "ola")));
  EXPECT_EQ(slots.Acquire(Person("bup-oslo", "per")).status().message(),
            "at most 3 inbox streams at once per agency; retry in 1 s");

  held.push_back(*slots.Acquire(Person("ppt-oslo", "eva")));
  EXPECT_EQ(slots.Acquire(Person("bhg-solsikken", "liv")).status().message(),
            "at most 4 inbox streams at once on this server; retry in 1 s");
  EXPECT_EQ(slots.in_use(), 4);
}

TEST(StreamSlotsTest, ASlotIsFreedWhenItsHolderGoes) {
  StreamSlots slots({.total = 8, .per_agency = 8, .per_caller = 1}, "attachment.uploads",
                    "uploads");
  {
    absl::StatusOr<StreamSlots::Slot> first = slots.Acquire(Person("bup-oslo", "kari"));
    ASSERT_TRUE(first.ok());
    EXPECT_FALSE(slots.Acquire(Person("bup-oslo", "kari")).ok());
    StreamSlots::Slot moved = *std::move(first);  // a move keeps one slot
    EXPECT_EQ(slots.in_use(), 1);
  }
  EXPECT_EQ(slots.in_use(), 0);
  EXPECT_TRUE(slots.Acquire(Person("bup-oslo", "kari")).ok());
}

}  // namespace
}  // namespace budstikke::common
