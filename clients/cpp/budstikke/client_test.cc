#include "budstikke/client.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "budstikke/retry_policy.h"
#include "gmock/gmock.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"

namespace budstikke {
namespace {

using ::testing::HasSubstr;

// Every RPC of every service has a retry decision, made once.
TEST(ClientTest, EveryRpcIsEitherRetriedOrNot) {
  std::set<std::string> retried(internal::RetriedMethods().begin(),
                                internal::RetriedMethods().end());
  std::set<std::string> not_retried(internal::NotRetriedMethods().begin(),
                                    internal::NotRetriedMethods().end());
  EXPECT_EQ(retried.size(), internal::RetriedMethods().size());
  EXPECT_EQ(not_retried.size(), internal::NotRetriedMethods().size());
  std::set<std::string> rpcs;
  for (const char* name : {"DirectoryService", "ConsultationService", "ConsentService",
                           "ReferralService", "InboxService", "AuditService", "AdminService"}) {
    const google::protobuf::ServiceDescriptor* service =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            std::string("budstikke.v1.") + name);
    ASSERT_NE(service, nullptr) << name;
    // A service added to the package must be added to the list above.
    EXPECT_EQ(service->file()->service_count(), 1) << service->full_name();
    for (int i = 0; i < service->method_count(); ++i) {
      const std::string method = service->full_name() + "/" + service->method(i)->name();
      rpcs.insert(method);
      EXPECT_NE(retried.count(method), not_retried.count(method)) << method;
      if (service->method(i)->client_streaming() || service->method(i)->server_streaming()) {
        EXPECT_EQ(retried.count(method), 0u) << "streams are not retried: " << method;
      }
    }
  }
  for (const std::string& name : retried) EXPECT_EQ(rpcs.count(name), 1u) << name;
  for (const std::string& name : not_retried) EXPECT_EQ(rpcs.count(name), 1u) << name;
  EXPECT_EQ(rpcs.size(), 47u);
  // Creates carry a request_id; changes without one are not retried.
  EXPECT_EQ(retried.count("budstikke.v1.DirectoryService/CreateAgency"), 1u);
  EXPECT_EQ(retried.count("budstikke.v1.DirectoryService/UpdateAgency"), 0u);
  EXPECT_EQ(retried.count("budstikke.v1.ReferralService/Decide"), 0u);
}

TEST(ClientTest, ServiceConfigNamesTheRetriedMethods) {
  nlohmann::json config = nlohmann::json::parse(internal::RetryServiceConfig(9));
  ASSERT_EQ(config["methodConfig"].size(), 1u);
  const nlohmann::json& method_config = config["methodConfig"][0];
  EXPECT_EQ(method_config["retryPolicy"],
            nlohmann::json::parse(R"({"maxAttempts":5,"initialBackoff":"0.1s","maxBackoff":"1s",
                                      "backoffMultiplier":2,"retryableStatusCodes":["UNAVAILABLE"]})"));
  ASSERT_EQ(method_config["name"].size(), internal::RetriedMethods().size());
  EXPECT_EQ(
      method_config["name"][0],
      nlohmann::json::parse(R"({"service":"budstikke.v1.DirectoryService","method":"WhoAmI"})"));
  EXPECT_EQ(internal::RetryServiceConfig(1), "{}");
}

// A directory that answers UNAVAILABLE to the first `failures` calls of each
// method and counts the calls.
class FlakyDirectory final : public v1::DirectoryService::Service {
 public:
  explicit FlakyDirectory(int failures) : failures_(failures) {}
  grpc::Status WhoAmI(grpc::ServerContext*, const v1::WhoAmIRequest*,
                      v1::WhoAmIResponse* response) override {
    response->set_spiffe_id("spiffe://t/u");
    return Answer(&who_am_i_calls_);
  }
  grpc::Status UpdateAgency(grpc::ServerContext*, const v1::UpdateAgencyRequest*,
                            v1::Agency*) override {
    return Answer(&update_calls_);
  }
  int who_am_i_calls() const { return who_am_i_calls_; }
  int update_calls() const { return update_calls_; }

 private:
  grpc::Status Answer(std::atomic<int>* calls) {
    if (++*calls <= failures_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "flaky");
    return grpc::Status::OK;
  }
  const int failures_;
  std::atomic<int> who_am_i_calls_{0}, update_calls_{0};
};

struct FlakyServer {
  explicit FlakyServer(int failures) : service(failures) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
    server = builder.BuildAndStart();
  }
  // A stub over a channel with the SDK's arguments (but no TLS).
  std::unique_ptr<v1::DirectoryService::Stub> Stub(int max_attempts) {
    ClientOptions options;
    options.max_attempts = max_attempts;
    return v1::DirectoryService::NewStub(grpc::CreateCustomChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(),
        Client::ChannelArgs(options)));
  }
  FlakyDirectory service;
  int port = 0;
  std::unique_ptr<grpc::Server> server;
};

grpc::Status CallWithDeadline(const std::function<grpc::Status(grpc::ClientContext*)>& call) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return call(&context);
}

TEST(ClientTest, GrpcRetriesAReadUpToMaxAttempts) {
  FlakyServer server(/*failures=*/2);
  ASSERT_NE(server.server, nullptr);
  auto stub = server.Stub(/*max_attempts=*/3);
  v1::WhoAmIResponse me;
  grpc::Status status = CallWithDeadline(
      [&](grpc::ClientContext* c) { return stub->WhoAmI(c, v1::WhoAmIRequest(), &me); });
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(me.spiffe_id(), "spiffe://t/u");
  EXPECT_EQ(server.service.who_am_i_calls(), 3);
}

TEST(ClientTest, GrpcGivesUpAfterMaxAttempts) {
  FlakyServer server(/*failures=*/5);
  ASSERT_NE(server.server, nullptr);
  auto stub = server.Stub(/*max_attempts=*/2);
  v1::WhoAmIResponse me;
  grpc::Status status = CallWithDeadline(
      [&](grpc::ClientContext* c) { return stub->WhoAmI(c, v1::WhoAmIRequest(), &me); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.service.who_am_i_calls(), 2);
}

TEST(ClientTest, GrpcDoesNotRetryAChangeWithoutRequestId) {
  FlakyServer server(/*failures=*/1);
  ASSERT_NE(server.server, nullptr);
  auto stub = server.Stub(/*max_attempts=*/3);
  v1::Agency agency;
  grpc::Status status = CallWithDeadline([&](grpc::ClientContext* c) {
    return stub->UpdateAgency(c, v1::UpdateAgencyRequest(), &agency);
  });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.service.update_calls(), 1);
}

TEST(ClientTest, NoRetriesWithOneAttempt) {
  FlakyServer server(/*failures=*/1);
  ASSERT_NE(server.server, nullptr);
  auto stub = server.Stub(/*max_attempts=*/1);
  v1::WhoAmIResponse me;
  grpc::Status status = CallWithDeadline(
      [&](grpc::ClientContext* c) { return stub->WhoAmI(c, v1::WhoAmIRequest(), &me); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(server.service.who_am_i_calls(), 1);
}

TEST(ClientTest, MissingFilesNameTheSetting) {
  ClientOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(
      std::string(client.status().message()),
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
