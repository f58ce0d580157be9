#include "services/common/audit_event.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace budstikke::common {
namespace {

using ::testing::StartsWith;

Caller Someone() {
  Caller c;
  c.identity.agency = "bup-oslo";
  c.identity.role = v1::ROLE_ADMIN;
  c.identity.user = "ola";
  return c;
}

TEST(StampRecordedTest, KeepsOrdinaryIdsAndFillsTheDefaults) {
  v1::AuditEvent e = AllowedEvent("referral.read", v1::RESOURCE_KIND_REFERRAL, "ref-1");
  e.set_request_id("req-1");
  e.clear_outcome();
  StampRecorded(Someone(), absl::FromUnixSeconds(1795000000), &e);
  EXPECT_EQ(e.resource().id(), "ref-1");
  EXPECT_EQ(e.request_id(), "req-1");
  EXPECT_EQ(e.outcome(), v1::AUDIT_OUTCOME_ALLOWED);
  EXPECT_EQ(e.actor().user(), "ola");
  EXPECT_EQ(e.time().seconds(), 1795000000);
}

// Issue 20, defect 1: a caller's string never grows a leaf.
TEST(StampRecordedTest, RecordsAnOverlongOrControlCharacterIdAsItsHash) {
  v1::AuditEvent e =
      AllowedEvent("referral.read", v1::RESOURCE_KIND_REFERRAL, std::string(3 << 20, 'x'));
  e.set_request_id("a\nb");
  StampRecorded(Someone(), absl::FromUnixSeconds(1795000000), &e);
  EXPECT_THAT(e.resource().id(), StartsWith("sha256:"));
  EXPECT_EQ(e.resource().id().size(), 7u + 64u);
  // SHA-256 of "a\nb".
  EXPECT_EQ(e.request_id(),
            "sha256:7e18f737311b2dc3b2f269dd78396b0351f14fb66efa879f768cb23181883c78");
  v1::AuditEvent at_limit = AllowedEvent("referral.read", v1::RESOURCE_KIND_REFERRAL,
                                         std::string(kMaxRecordedIdBytes, 'y'));
  StampRecorded(Someone(), absl::FromUnixSeconds(1795000000), &at_limit);
  EXPECT_EQ(at_limit.resource().id(), std::string(kMaxRecordedIdBytes, 'y'));
}

}  // namespace
}  // namespace budstikke::common
