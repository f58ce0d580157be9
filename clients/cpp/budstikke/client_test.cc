#include "budstikke/client.h"

#include <chrono>

#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace budstikke {
namespace {

using ::testing::HasSubstr;

TEST(ClientTest, ReadsAndRequestsWithIdsAreSafeToRetry) {
  EXPECT_TRUE(Client::IsSafeToRetry(v1::GetAgencyRequest()));
  EXPECT_TRUE(Client::IsSafeToRetry(v1::ListAgenciesRequest()));
  EXPECT_TRUE(Client::IsSafeToRetry(v1::WhoAmIRequest()));
  EXPECT_TRUE(Client::IsSafeToRetry(v1::QueryAuditRequest()));
  v1::CreateAgencyRequest create;
  EXPECT_FALSE(Client::IsSafeToRetry(create));
  create.set_request_id("req-1");
  EXPECT_TRUE(Client::IsSafeToRetry(create));
  EXPECT_FALSE(Client::IsSafeToRetry(v1::UpdateAgencyRequest()));
}

TEST(ClientTest, MissingFilesNameTheSetting) {
  ClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(client.status().message()),
              HasSubstr("CA certificate /nonexistent/ca.pem cannot be read (BUDSTIKKE_CA or --ca)"));
}

TEST(ClientTest, ErrorDetailsAreDecoded) {
  v1::ErrorDetails details;
  details.add_violations()->set_rule("consent.revoked");
  google::rpc::Status rpc;
  rpc.set_code(9);
  rpc.add_details()->PackFrom(details);
  absl::Status s = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "refused", rpc.SerializeAsString()));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  auto decoded = ErrorDetailsOf(s);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(decoded->violations(0).rule(), "consent.revoked");
}

}  // namespace
}  // namespace budstikke
