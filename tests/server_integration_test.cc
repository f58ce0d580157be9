// The real budstikke-server binary over real mTLS on a loopback port:
// handshake refusals, SPIFFE identity checks, authorization, directory flow,
// health and reflection.
#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/grpcpp.h>

#include <set>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "budstikke/v1/directory.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/test_server.h"

namespace budstikke {
namespace {

using ::budstikke::testing::RunCommand;
using ::budstikke::testing::SourceDir;
using ::budstikke::testing::TestServer;
using ::testing::HasSubstr;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return ctx;
}

grpc::Status WhoAmI(const std::shared_ptr<grpc::Channel>& ch, v1::WhoAmIResponse* resp,
                    const std::string& on_behalf_of = "") {
  auto stub = v1::DirectoryService::NewStub(ch);
  auto ctx = Ctx();
  if (!on_behalf_of.empty()) ctx->AddMetadata("budstikke-on-behalf-of", on_behalf_of);
  return stub->WhoAmI(ctx.get(), v1::WhoAmIRequest(), resp);
}

class ServerIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer();
    const std::string mint = SourceDir() + "/certs/mint-cert.sh";
    const std::string& d = server_->cert_dir();
    auto run = [](std::vector<std::string> argv) {
      std::string err;
      int rc = RunCommand(argv, nullptr, &err);
      ASSERT_EQ(rc, 0) << err;
    };
    run({"/bin/bash", mint, "make-ca", d + "/rogue"});
    run({"/bin/bash", mint, d, "rogue-staff", "--ca-dir", d + "/rogue", "--uri",
         "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari"});
    run({"/bin/bash", mint, d, "other-td", "--uri",
         "spiffe://other.test/agency/bhg-solsikken/role/staff/user/kari"});
    run({"/bin/bash", mint, d, "no-uri", "--dns", "kari.example"});
    run({"/bin/bash", mint, d, "two-uris", "--uri",
         "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari", "--uri",
         "spiffe://budstikke.test/agency/bup-oslo/role/clinician/user/terapeut1"});
    run({"/bin/bash", mint, d, "malformed", "--uri",
         "spiffe://budstikke.test/agency/bhg-solsikken/user/kari"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  static std::shared_ptr<grpc::Channel> As(const std::string& name) {
    return server_->Channel(name);
  }

  static TestServer* server_;
};

TestServer* ServerIntegrationTest::server_ = nullptr;

TEST_F(ServerIntegrationTest, KnownIdentityIsRecognised) {
  v1::WhoAmIResponse resp;
  grpc::Status s = WhoAmI(As("kindergarten-staff"), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.actor().agency(), "bhg-solsikken");
  EXPECT_EQ(resp.actor().role(), v1::ROLE_STAFF);
  EXPECT_EQ(resp.actor().user(), "kari");
  EXPECT_EQ(resp.agency().type(), v1::AGENCY_TYPE_KINDERGARTEN);
  EXPECT_EQ(resp.spiffe_id(), "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari");
}

TEST_F(ServerIntegrationTest, NoClientCertificateIsRefusedAtHandshake) {
  const std::string& d = server_->cert_dir();
  v1::WhoAmIResponse resp;
  grpc::Status s = WhoAmI(server_->ChannelWith(d + "/ca.pem", "", ""), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerIntegrationTest, CertificateFromAnotherCaIsRefusedAtHandshake) {
  const std::string& d = server_->cert_dir();
  v1::WhoAmIResponse resp;
  grpc::Status s = WhoAmI(
      server_->ChannelWith(d + "/ca.pem", d + "/rogue-staff.pem", d + "/rogue-staff.key"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

// Certificates of the CA that name no valid identity, and what the refusal says.
struct BadIdentity {
  const char* name;
  const char* message;
};
constexpr BadIdentity kBadIdentities[] = {
    {"other-td", "trust domain 'other.test'"},
    {"no-uri", "no URI SAN"},
    {"two-uris", "2 URI SANs"},
    {"malformed", "SPIFFE path must be"},
};

TEST_F(ServerIntegrationTest, BadSpiffeIdsAreUnauthenticated) {
  for (const BadIdentity& c : kBadIdentities) {
    v1::WhoAmIResponse resp;
    grpc::Status s = WhoAmI(As(c.name), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << c.name;
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.name;
  }
}

TEST_F(ServerIntegrationTest, OnlyServicesMayActOnBehalfOfSomeone) {
  const std::string kari = "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari";
  v1::WhoAmIResponse resp;
  grpc::Status s = WhoAmI(As("bup-clinician"), &resp, kari);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("only a Budstikke service identity"));

  s = WhoAmI(As("svc-console"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("must name the caller"));

  s = WhoAmI(As("svc-console"), &resp, kari);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.actor().agency(), "bhg-solsikken");
  EXPECT_EQ(resp.actor().service(), "console");

  // Only the gateway and the console may act for people on the public API
  // (services/common/service_allow_list.cc).
  s = WhoAmI(As("svc-referral"), &resp, kari);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(),
            "service 'referral' may not act on behalf of a person on "
            "budstikke.v1.DirectoryService/WhoAmI");
}

TEST_F(ServerIntegrationTest, StaffCannotCreateAgencyAdminCanAndStaffSeesIt) {
  v1::Agency agency;
  agency.set_id("bup-bergen");
  agency.set_name("BUP Bergen");
  agency.set_type(v1::AGENCY_TYPE_BUP);
  agency.set_municipality("4601");
  v1::CreateAgencyRequest req;
  *req.mutable_agency() = agency;
  req.set_request_id("create-bup-bergen-1");

  auto staff = v1::DirectoryService::NewStub(As("kindergarten-staff"));
  v1::Agency out;
  grpc::Status s = staff->CreateAgency(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(),
              HasSubstr("may not call budstikke.v1.DirectoryService/CreateAgency (authz.role)"));

  auto admin = v1::DirectoryService::NewStub(As("admin"));
  s = admin->CreateAgency(Ctx().get(), req, &out);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(out.id(), "bup-bergen");

  v1::GetAgencyRequest get;
  get.set_id("bup-bergen");
  v1::Agency seen;
  s = staff->GetAgency(Ctx().get(), get, &seen);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(seen.name(), "BUP Bergen");
  EXPECT_EQ(seen.municipality(), "4601");

  // An agency admin other than the operator's may not create agencies.
  auto bup_admin = v1::DirectoryService::NewStub(As("bup-admin"));
  req.set_request_id("create-bup-bergen-2");
  s = bup_admin->CreateAgency(Ctx().get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServerIntegrationTest, HealthIsServing) {
  auto stub = grpc::health::v1::Health::NewStub(As("kindergarten-staff"));
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s = stub->Check(Ctx().get(), grpc::health::v1::HealthCheckRequest(), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

// One reflection request on a new stream; the stream's status.
grpc::Status Reflect(const std::shared_ptr<grpc::Channel>& channel,
                     const grpc::reflection::v1alpha::ServerReflectionRequest& req,
                     grpc::reflection::v1alpha::ServerReflectionResponse* resp) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  auto ctx = Ctx();
  auto stream = stub->ServerReflectionInfo(ctx.get());
  stream->Write(req);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse ignored;
  if (stream->Read(resp)) {
    while (stream->Read(&ignored)) {
    }
  }
  return stream->Finish();
}

grpc::reflection::v1alpha::ServerReflectionRequest ListServicesRequest() {
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  return req;
}

TEST_F(ServerIntegrationTest, ReflectionListsEveryService) {
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  grpc::Status s = Reflect(As("kindergarten-staff"), ListServicesRequest(), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::set<std::string> names;
  for (const auto& service : resp.list_services_response().service()) {
    names.insert(service.name());
  }
  EXPECT_EQ(names, (std::set<std::string>{
                       "budstikke.v1.AdminService", "budstikke.v1.AuditService",
                       "budstikke.v1.ConsentService", "budstikke.v1.ConsultationService",
                       "budstikke.v1.DirectoryService", "budstikke.v1.InboxService",
                       "budstikke.v1.ReferralService", "grpc.health.v1.Health",
                       "grpc.reflection.v1alpha.ServerReflection"}));
}

// What grpcurl asks to describe a service: the file that defines it, with
// its dependencies; an unknown symbol is NOT_FOUND in the response.
TEST_F(ServerIntegrationTest, ReflectionDescribesAServiceWithItsDependencies) {
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_file_containing_symbol("budstikke.v1.ReferralService");
  grpc::reflection::v1alpha::ServerReflectionResponse resp;
  grpc::Status s = Reflect(As("bup-clinician"), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  std::vector<std::string> files;
  for (const std::string& bytes : resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.push_back(file.name());
  }
  ASSERT_FALSE(files.empty());
  EXPECT_EQ(files[0], "budstikke/v1/referral.proto");
  EXPECT_THAT(files, ::testing::Contains("budstikke/v1/types.proto"));
  req.set_file_containing_symbol("budstikke.v1.NoSuchService");
  s = Reflect(As("bup-clinician"), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
}

// Reflection describes the API only to an authenticated caller: any other
// certificate of the CA gets the refusal every method gives it. Health stays
// open to every certificate of the CA.
TEST_F(ServerIntegrationTest, ReflectionRefusesAnUnauthenticatedCaller) {
  for (const BadIdentity& c : kBadIdentities) {
    grpc::reflection::v1alpha::ServerReflectionResponse resp;
    grpc::Status s = Reflect(As(c.name), ListServicesRequest(), &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << c.name;
    EXPECT_THAT(s.error_message(), HasSubstr(c.message)) << c.name;
    EXPECT_EQ(resp.list_services_response().service_size(), 0) << c.name;

    auto health = grpc::health::v1::Health::NewStub(As(c.name));
    grpc::health::v1::HealthCheckResponse status;
    s = health->Check(Ctx().get(), grpc::health::v1::HealthCheckRequest(), &status);
    ASSERT_TRUE(s.ok()) << c.name << ": " << s.error_message();
    EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING) << c.name;
  }
}

// A free loopback port (bound and released; the server binds it next).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// --health-listen: plaintext gRPC health for Kubernetes probes, nothing else.
TEST(HealthListenTest, ServesLivenessAndReadinessInPlaintextAndNothingElse) {
  const std::string address = "127.0.0.1:" + std::to_string(FreePort());
  testing::TestServer server({"--health-listen", address});
  ASSERT_FALSE(server.address().empty());
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  for (const char* service : {"", "budstikke.ready"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << service << ": " << s.error_message();
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  grpc::health::v1::HealthCheckRequest unknown;
  unknown.set_service("budstikke.v1.ReferralService");
  grpc::health::v1::HealthCheckResponse resp;
  EXPECT_EQ(health->Check(Ctx().get(), unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  // No reflection, no data service on the plaintext port.
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  auto ctx = Ctx();
  auto stream = reflection->ServerReflectionInfo(ctx.get());
  grpc::reflection::v1alpha::ServerReflectionRequest req;
  req.set_list_services("");
  stream->Write(req);
  stream->WritesDone();
  grpc::reflection::v1alpha::ServerReflectionResponse ignored;
  while (stream->Read(&ignored)) {
  }
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  auto directory = v1::DirectoryService::NewStub(channel);
  v1::WhoAmIResponse who;
  EXPECT_EQ(directory->WhoAmI(Ctx().get(), v1::WhoAmIRequest(), &who).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace budstikke
