#include "services/common/refusal_aggregator.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "services/common/audit_event.h"
#include "services/common/fake_audit_outbox.h"
#include "services/common/fake_clock.h"
#include "services/common/time_util.h"

namespace budstikke::common {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

Caller Person(const std::string& user) {
  Caller c;
  c.identity.spiffe_id = "spiffe://budstikke.test/agency/bup-oslo/user/" + user;
  c.identity.agency = "bup-oslo";
  c.identity.user = user;
  return c;
}

v1::AuditEvent Refused(const std::string& id, const std::string& rule,
                       const std::string& request_id = "r1") {
  v1::AuditEvent e = AllowedEvent("referral.read", v1::RESOURCE_KIND_REFERRAL, id);
  e.set_outcome(v1::AUDIT_OUTCOME_DENIED);
  e.set_rule(rule);
  e.set_request_id(request_id);
  return e;
}

class RefusalAggregatorTest : public ::testing::Test {
 protected:
  RefusalAggregatorTest() { outbox_.AggregateRefusals(&aggregator_); }

  FakeClock clock_{kStart};
  RefusalAggregator aggregator_{&clock_, absl::Seconds(60), /*max_windows=*/3};
  FakeAuditOutbox outbox_;
};

TEST_F(RefusalAggregatorTest, RepeatsInAWindowBecomeOneEventAtItsEnd) {
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "consent.revoked", "r1")).ok());
  for (int i = 0; i < 4; ++i) {
    clock_.Advance(absl::Seconds(10));
    ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "consent.revoked", "r2")).ok());
  }
  ASSERT_EQ(outbox_.events().size(), 1u);
  EXPECT_EQ(outbox_.events()[0].count(), 0u);
  EXPECT_EQ(outbox_.events()[0].request_id(), "r1");

  clock_.Advance(absl::Seconds(19));  // 59 s after the first refusal
  ASSERT_TRUE(outbox_.FlushRefusals(false).ok());
  EXPECT_EQ(outbox_.events().size(), 1u);
  clock_.Advance(absl::Seconds(1));  // the window ends
  ASSERT_TRUE(outbox_.FlushRefusals(false).ok());
  ASSERT_EQ(outbox_.events().size(), 2u);
  const v1::AuditEvent summary = outbox_.events()[1];
  EXPECT_EQ(summary.outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(summary.action(), "referral.read");
  EXPECT_EQ(summary.resource().id(), "ref-1");
  EXPECT_EQ(summary.rule(), "consent.revoked");
  EXPECT_EQ(summary.actor().user(), "kari");
  EXPECT_EQ(summary.count(), 4u);
  EXPECT_EQ(FromProtoTime(summary.first_time()), kStart + absl::Seconds(10));
  EXPECT_EQ(FromProtoTime(summary.last_time()), kStart + absl::Seconds(40));
  EXPECT_EQ(summary.request_id(), "");
  EXPECT_EQ(aggregator_.open_windows(), 0u);

  // After the window: the next refusal is its own event again.
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "consent.revoked")).ok());
  EXPECT_EQ(outbox_.events().size(), 3u);
  EXPECT_EQ(outbox_.events()[2].count(), 0u);
}

TEST_F(RefusalAggregatorTest, EachPartOfTheKeyOpensItsOwnWindow) {
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "consent.revoked")).ok());
  ASSERT_TRUE(outbox_.Record(Person("ola"), Refused("ref-1", "consent.revoked")).ok());
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-2", "consent.revoked")).ok());
  // A fourth key finds no room (3 windows): recorded, no window opened.
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "authz.role")).ok());
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "authz.role")).ok());
  EXPECT_EQ(outbox_.events().size(), 5u);
  EXPECT_EQ(aggregator_.open_windows(), 3u);
  ASSERT_TRUE(outbox_.Record(Person("ola"), Refused("ref-1", "consent.revoked")).ok());
  EXPECT_EQ(outbox_.events().size(), 5u);
  ASSERT_TRUE(outbox_.FlushRefusals(/*all=*/true).ok());  // at shutdown
  ASSERT_EQ(outbox_.events().size(), 6u);
  EXPECT_EQ(outbox_.events()[5].actor().user(), "ola");
  EXPECT_EQ(outbox_.events()[5].count(), 1u);
  EXPECT_EQ(aggregator_.open_windows(), 0u);
}

TEST_F(RefusalAggregatorTest, AllowedEventsAreNeverAggregated) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(outbox_
                    .Record(Person("kari"),
                            AllowedEvent("referral.read", v1::RESOURCE_KIND_REFERRAL, "ref-1"))
                    .ok());
  }
  EXPECT_EQ(outbox_.events().size(), 3u);
  EXPECT_EQ(aggregator_.open_windows(), 0u);
}

TEST_F(RefusalAggregatorTest, ASummaryThatCannotBeRecordedIsReported) {
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "consent.revoked")).ok());
  ASSERT_TRUE(outbox_.Record(Person("kari"), Refused("ref-1", "consent.revoked")).ok());
  outbox_.SetFailing(true);
  clock_.Advance(absl::Seconds(60));
  absl::Status s = outbox_.FlushRefusals(false);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "audit log unavailable: injected failure");
}

}  // namespace
}  // namespace budstikke::common
