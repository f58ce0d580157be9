// common::Unary / RunAndReply: nothing runs without a caller, domain errors
// keep their code, message and details, values fill the response, and the
// domain call runs where the executor argument says.
//
// A grpc::ServerContext cannot be given a peer certificate outside a real
// call (its auth context is private), so the authenticated path of Unary is
// covered by the integration tests, which call every method over mTLS; here a
// caller is built directly for RunAndReply.
#include "services/common/grpc_adapter.h"

#include <grpcpp/server_context.h>

#include <string>
#include <thread>

#include "budstikke/v1/directory.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/common/caller_testing.h"
#include "services/common/errors.h"

namespace budstikke::common {
namespace {

constexpr char kGetAgency[] = "budstikke.v1.DirectoryService/GetAgency";

Caller Clinician() { return testing::Person("bup-oslo", v1::ROLE_CLINICIAN, "u1"); }

TEST(UnaryTest, UnauthenticatedContextRunsNothing) {
  Authenticator auth("budstikke.test");
  grpc::ServerContext ctx;  // no call, so no peer certificate
  v1::Agency resp;
  resp.set_id("untouched");
  bool ran = false;
  grpc::Status s = Unary(&ctx, auth, kGetAgency, &resp, kInline,
                         [&](const Caller&) -> absl::StatusOr<v1::Agency> {
                           ran = true;
                           return v1::Agency();
                         });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(s.error_message(), "client certificate required");
  EXPECT_EQ(s.error_details(), "");
  EXPECT_FALSE(ran);
  EXPECT_EQ(resp.id(), "untouched");
}

TEST(RunAndReplyTest, DomainErrorKeepsCodeMessageAndDetails) {
  v1::Agency resp;
  resp.set_id("untouched");
  grpc::Status s =
      RunAndReply(Clinician(), kInline, &resp, [](const Caller&) -> absl::StatusOr<v1::Agency> {
        return PolicyRefusal({{"referral.bup.sender_role", "only a physician may refer"}});
      });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("referral.bup.sender_role"), std::string::npos)
      << s.error_message();
  google::rpc::Status rpc;
  ASSERT_TRUE(rpc.ParseFromString(s.error_details()));
  EXPECT_EQ(rpc.code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
  ASSERT_EQ(rpc.details_size(), 1);
  v1::ErrorDetails details;
  ASSERT_TRUE(rpc.details(0).UnpackTo(&details));
  ASSERT_EQ(details.violations_size(), 1);
  EXPECT_EQ(details.violations(0).rule(), "referral.bup.sender_role");
  EXPECT_EQ(details.violations(0).description(), "only a physician may refer");
  EXPECT_EQ(resp.id(), "untouched");
}

TEST(RunAndReplyTest, PlainDomainErrorHasNoDetails) {
  v1::Agency resp;
  grpc::Status s =
      RunAndReply(Clinician(), kInline, &resp, [](const Caller&) -> absl::StatusOr<v1::Agency> {
        return absl::NotFoundError("agency not found");
      });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "agency not found");
  EXPECT_EQ(s.error_details(), "");
}

TEST(RunAndReplyTest, SuccessFillsTheResponseAndPassesTheCaller) {
  v1::Agency resp;
  std::string seen_agency;
  grpc::Status s = RunAndReply(Clinician(), kInline, &resp, [&](const Caller& c) {
    seen_agency = c.agency();
    v1::Agency a;
    a.set_id("bup-oslo");
    a.set_name("BUP Oslo");
    return absl::StatusOr<v1::Agency>(a);
  });
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen_agency, "bup-oslo");
  EXPECT_EQ(resp.id(), "bup-oslo");
  EXPECT_EQ(resp.name(), "BUP Oslo");
}

TEST(RunAndReplyTest, LongTextsAreStashedButSurviveTheWire) {
  const std::string long_name(kLongString, 'x');
  v1::Agency resp;
  grpc::Status s = RunAndReply(Clinician(), kInline, &resp, [&](const Caller&) {
    v1::Agency a;
    a.set_id("bup-oslo");
    a.set_name(long_name);
    return absl::StatusOr<v1::Agency>(a);
  });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.name(), "");  // moved to the unknown fields for the wire
  v1::Agency received;
  ASSERT_TRUE(received.ParseFromString(resp.SerializeAsString()));
  EXPECT_EQ(received.id(), "bup-oslo");
  EXPECT_EQ(received.name(), long_name);
}

TEST(RunAndReplyTest, RunsOnTheExecutorOrInline) {
  const std::thread::id here = std::this_thread::get_id();
  auto where = [](std::thread::id* ran_on) {
    return [ran_on](const Caller&) {
      *ran_on = std::this_thread::get_id();
      return absl::StatusOr<v1::Agency>(v1::Agency());
    };
  };
  v1::Agency resp;
  std::thread::id inline_on;
  ASSERT_TRUE(RunAndReply(Clinician(), kInline, &resp, where(&inline_on)).ok());
  EXPECT_EQ(inline_on, here);

  DomainExecutor executor(1);
  std::thread::id executor_on;
  ASSERT_TRUE(RunAndReply(Clinician(), &executor, &resp, where(&executor_on)).ok());
  EXPECT_NE(executor_on, here);
  EXPECT_NE(executor_on, std::thread::id());
}

}  // namespace
}  // namespace budstikke::common
