#include "services/common/errors.h"

#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/grpc_status.h"

namespace budstikke::common {
namespace {

using ::testing::HasSubstr;

TEST(PolicyRefusalTest, ListsEveryRuleInMessageAndDetails) {
  absl::Status s = PolicyRefusal({{"referral.bup.sender_role", "sender must be a physician"},
                                  {"consent.revoked", "the consent was revoked"}});
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("referral.bup.sender_role"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("consent.revoked"));
  auto details = GetErrorDetails(s);
  ASSERT_TRUE(details.has_value());
  ASSERT_EQ(details->violations_size(), 2);
  EXPECT_EQ(details->violations(0).rule(), "referral.bup.sender_role");
  EXPECT_EQ(details->violations(1).description(), "the consent was revoked");
}

TEST(ToGrpcStatusTest, CarriesDetailsAsGoogleRpcStatus) {
  v1::PiiFinding finding;
  finding.set_kind(v1::PII_KIND_NATIONAL_ID);
  finding.set_severity(v1::SEVERITY_REFUSE);
  finding.set_start(4);
  finding.set_end(15);
  absl::Status s =
      PolicyRefusal({{"consultation.pii.refused", "remove the national id"}}, {finding});
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(g.error_message(), std::string(s.message()));
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(g.error_details()));
  EXPECT_EQ(rpc.code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  ASSERT_EQ(rpc.details_size(), 1);
  v1::ErrorDetails details;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&details));
  ASSERT_EQ(details.findings_size(), 1);
  EXPECT_EQ(details.findings(0).start(), 4u);
  EXPECT_EQ(details.findings(0).end(), 15u);
  EXPECT_EQ(details.violations(0).rule(), "consultation.pii.refused");
}

TEST(ToGrpcStatusTest, PlainErrorsHaveNoDetails) {
  grpc::Status g = ToGrpcStatus(absl::NotFoundError("consultation not found"));
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "consultation not found");
  EXPECT_EQ(g.error_details(), "");
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

}  // namespace
}  // namespace budstikke::common
