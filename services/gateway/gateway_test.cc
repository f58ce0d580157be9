// The gateway between real mTLS clients and a real in-process backend server
// on loopback: the backend (presenting svc-referral) implements parts of
// DirectoryService, InboxService and ReferralService and records what it saw;
// the gateway (presenting svc-gateway, also as its client certificate towards
// the backend) forwards to it.
#include "services/gateway/gateway.h"

#include <arpa/inet.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/directory.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/fake_audit_outbox.h"
#include "services/common/grpc_status.h"
#include "services/common/tls.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_server.h"

namespace budstikke::gateway {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr char kTrustDomain[] = "budstikke.test";
constexpr char kStaff[] = "spiffe://budstikke.test/agency/bhg-solsikken/role/staff/user/kari";
constexpr char kClinician[] =
    "spiffe://budstikke.test/agency/bup-oslo/role/clinician/user/terapeut1";
constexpr char kGatewayId[] = "spiffe://budstikke.test/service/gateway";
constexpr char kPayloadHeader[] = "x-test-payload-bytes";

std::string Str(grpc::string_ref s) { return std::string(s.data(), s.size()); }

// The development certificates, made once for the whole binary.
const std::string& CertDir() {
  static const budstikke::testing::TempDir dir;
  static const std::string certs = [] {
    std::string path = dir.Sub("certs"), err;
    int rc = budstikke::testing::RunCommand(
        {"/bin/bash", "-c", budstikke::testing::MakeCertsScript(), "make-certs", path}, nullptr,
        &err);
    if (rc != 0) ADD_FAILURE() << "making certificates failed (" << rc << "): " << err;
    return path;
  }();
  return certs;
}

common::TlsFiles FilesOf(const std::string& name) {
  return {CertDir() + "/" + name + ".pem", CertDir() + "/" + name + ".key", CertDir() + "/ca.pem"};
}

// What the backend saw of one call.
struct Seen {
  std::string method;
  std::string peer;  // the peer certificate's SPIFFE ID
  std::multimap<std::string, std::string> metadata;
  std::chrono::system_clock::time_point deadline;
};

class Recorder {
 public:
  void Record(const std::string& method, const grpc::ServerContext& ctx) {
    Seen seen;
    seen.method = method;
    std::vector<grpc::string_ref> ids =
        ctx.auth_context()->FindPropertyValues(GRPC_PEER_SPIFFE_ID_PROPERTY_NAME);
    if (ids.size() == 1) seen.peer = Str(ids[0]);
    for (const auto& [k, v] : ctx.client_metadata()) {
      const std::string key = Str(k);
      if (key.rfind("x-", 0) == 0 || key == common::kOnBehalfOfMetadata) {
        seen.metadata.emplace(key, Str(v));
      }
    }
    seen.deadline = ctx.deadline();
    absl::MutexLock lock(&mu_);
    calls_.push_back(std::move(seen));
  }
  std::vector<Seen> calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  void StreamEnded(bool cancelled, std::chrono::steady_clock::time_point when, int written) {
    absl::MutexLock lock(&mu_);
    stream_ended_ = true;
    stream_cancelled_ = cancelled;
    stream_end_time_ = when;
    written_ = written;
  }
  void Wrote(int n) {
    absl::MutexLock lock(&mu_);
    written_ = n;
  }
  int written() const {
    absl::MutexLock lock(&mu_);
    return written_;
  }
  // Waits up to `timeout` for a stream to end; true and its end if it did.
  bool WaitStreamEnd(absl::Duration timeout, bool* cancelled,
                     std::chrono::steady_clock::time_point* when) const {
    absl::MutexLock lock(&mu_);
    auto ended = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stream_ended_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ended), timeout)) return false;
    *cancelled = stream_cancelled_;
    *when = stream_end_time_;
    return true;
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<Seen> calls_ ABSL_GUARDED_BY(mu_);
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::chrono::steady_clock::time_point stream_end_time_ ABSL_GUARDED_BY(mu_);
  int written_ ABSL_GUARDED_BY(mu_) = 0;
};

// The refusal GetAgency("refuse") returns: two violations in binary details.
grpc::Status TestRefusal() {
  return common::ToGrpcStatus(common::PolicyRefusal(
      {{"referral.bup.sender_role", "BUP needs a physician, psychologist or child welfare leader"},
       {"referral.legal_basis", "give a consent or a statutory duty"}}));
}

class TestDirectory final : public v1::DirectoryService::Service {
 public:
  explicit TestDirectory(Recorder* recorder) : recorder_(recorder) {}

  // Answers with the caller as the backend's own Authenticator sees it.
  grpc::Status WhoAmI(grpc::ServerContext* ctx, const v1::WhoAmIRequest*,
                      v1::WhoAmIResponse* resp) override {
    recorder_->Record("WhoAmI", *ctx);
    absl::StatusOr<common::Caller> caller = auth_.Identify(ctx);
    if (!caller.ok()) return common::ToGrpcStatus(caller.status());
    resp->set_spiffe_id(caller->identity.spiffe_id);
    *resp->mutable_actor() = common::ActorOf(*caller);
    ctx->AddInitialMetadata("x-backend-initial", "first");
    ctx->AddTrailingMetadata("x-backend-trailing", "last");
    ctx->AddTrailingMetadata("x-backend-trailing-bin", std::string("\x00\xff\x01", 3));
    return grpc::Status::OK;
  }

  grpc::Status GetAgency(grpc::ServerContext* ctx, const v1::GetAgencyRequest* req,
                         v1::Agency* resp) override {
    recorder_->Record("GetAgency", *ctx);
    if (req->id() == "wait") {  // until cancelled (at most 20 s)
      const absl::Time give_up = absl::Now() + absl::Seconds(20);
      while (!ctx->IsCancelled() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(2));
      recorder_->StreamEnded(ctx->IsCancelled(), std::chrono::steady_clock::now(), 0);
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    if (req->id() == "refuse") {
      ctx->AddTrailingMetadata("x-backend-trailing", "refused");
      return TestRefusal();
    }
    resp->set_id(req->id());
    return grpc::Status::OK;
  }

 private:
  Recorder* recorder_;
  common::Authenticator auth_{kTrustDomain};
};

class TestInbox final : public v1::InboxService::Service {
 public:
  explicit TestInbox(Recorder* recorder) : recorder_(recorder) {}

  // Streams events 1..from_cursor (resource ids of x-test-payload-bytes bytes),
  // then waits for the call to be cancelled (at most 20 s).
  grpc::Status Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                         grpc::ServerWriter<v1::InboxEvent>* writer) override {
    recorder_->Record("Subscribe", *ctx);
    size_t payload = 0;
    auto it = ctx->client_metadata().find(kPayloadHeader);
    if (it != ctx->client_metadata().end()) payload = std::stoul(Str(it->second));
    int written = 0;
    for (uint64_t cursor = 1; cursor <= req->from_cursor(); ++cursor) {
      v1::InboxEvent event;
      event.set_cursor(cursor);
      event.mutable_resource()->set_id(std::string(payload, 'p'));
      if (!writer->Write(event)) break;
      recorder_->Wrote(++written);
    }
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    while (!ctx->IsCancelled() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(2));
    recorder_->StreamEnded(ctx->IsCancelled(), std::chrono::steady_clock::now(), written);
    return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
  }

  grpc::Status Ack(grpc::ServerContext* ctx, const v1::AckRequest* req,
                   v1::AckResponse* resp) override {
    recorder_->Record("Ack", *ctx);
    resp->set_acked_cursor(req->up_to_cursor());
    return grpc::Status::OK;
  }

 private:
  Recorder* recorder_;
};

class TestReferral final : public v1::ReferralService::Service {
 public:
  explicit TestReferral(Recorder* recorder) : recorder_(recorder) {}

  // Answers with the file name and the chunks concatenated in arrival order;
  // refuses "refuse.txt" at once, without waiting for the rest.
  grpc::Status UploadAttachment(grpc::ServerContext* ctx,
                                grpc::ServerReader<v1::UploadAttachmentRequest>* reader,
                                v1::AttachmentInfo* resp) override {
    recorder_->Record("UploadAttachment", *ctx);
    v1::UploadAttachmentRequest part;
    std::string content;
    while (reader->Read(&part)) {
      if (part.has_metadata() && part.metadata().filename() == "refuse.txt") {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "filename refused");
      }
      if (part.has_metadata()) resp->set_filename(part.metadata().filename());
      content += part.chunk();
    }
    resp->set_id(content);
    resp->set_size(content.size());
    return grpc::Status::OK;
  }

 private:
  Recorder* recorder_;
};

// A TCP relay in front of the gateway for one client connection, so that a
// test can cut the connection the way a crashed client or a lost network does.
class TcpRelay {
 public:
  explicit TcpRelay(int target_port) : target_port_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listen_fd_, 4) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "relay: cannot listen";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~TcpRelay() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }

  int port() const { return port_; }
  // Closes both sides: the gateway sees its client's connection end.
  void Cut() { cut_ = true; }

 private:
  void Run() {
    pollfd accept_fd = {listen_fd_, POLLIN, 0};
    while (!stop_ && poll(&accept_fd, 1, 20) <= 0) {
    }
    if (stop_) return;
    const int client = accept(listen_fd_, nullptr, nullptr);
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(target_port_);
    if (client >= 0 && connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      Pump(client, server);
    }
    if (client >= 0) close(client);
    close(server);
  }

  void Pump(int client, int server) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[64 * 1024];
    while (!stop_ && !cut_) {
      if (poll(fds, 2, 20) <= 0) continue;
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) return;
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = write(fds[1 - i].fd, buf + off, n - off);
          if (w <= 0) return;
          off += w;
        }
      }
    }
  }

  int target_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, cut_{false};
  std::thread thread_;
};

// Answers every call it gets (here: ConsentService's methods) with OK and
// no message: what no real unary server does.
class SilentBackend final : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    class Reactor final : public grpc::ServerGenericBidiReactor {
     public:
      Reactor() { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }
    };
    return new Reactor();
  }
};

std::unique_ptr<grpc::Server> StartServer(const common::TlsFiles& files,
                                          const std::vector<grpc::Service*>& services,
                                          grpc::CallbackGenericService* generic, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", common::MakeServerCredentials(files), port);
  for (grpc::Service* s : services) builder.RegisterService(s);
  if (generic != nullptr) builder.RegisterCallbackGenericService(generic);
  return builder.BuildAndStart();
}

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(CertDir().empty());
    int backend_port = 0;
    backend_ = StartServer(FilesOf("svc-referral"), {&directory_, &inbox_, &referral_}, nullptr,
                           &backend_port);
    ASSERT_NE(backend_, nullptr);
    ASSERT_NE(backend_port, 0);

    // IP literals: no DNS resolver (c-ares leaks a little at exit under ASan).
    auto to_backend = grpc::CreateChannel("ipv4:127.0.0.1:" + std::to_string(backend_port),
                                          common::MakeChannelCredentials(FilesOf("svc-gateway")));
    // Nothing listens on port 1: the route of a backend that is down.
    auto to_nowhere = grpc::CreateChannel("ipv4:127.0.0.1:1",
                                          common::MakeChannelCredentials(FilesOf("svc-gateway")));
    GatewayOptions options;
    options.routes["budstikke.v1.DirectoryService"] = to_backend;
    options.routes["budstikke.v1.InboxService"] = to_backend;
    options.routes["budstikke.v1.ReferralService"] = to_backend;
    int silent_port = 0;
    silent_server_ = StartServer(FilesOf("svc-referral"), {}, &silent_, &silent_port);
    ASSERT_NE(silent_server_, nullptr);
    options.routes["budstikke.v1.ConsentService"] =
        grpc::CreateChannel("ipv4:127.0.0.1:" + std::to_string(silent_port),
                            common::MakeChannelCredentials(FilesOf("svc-gateway")));
    options.routes["budstikke.v1.AuditService"] = to_nowhere;
    auth_.SetAuditOutbox(&audit_);
    options.auth = &auth_;
    absl::StatusOr<std::unique_ptr<Gateway>> gateway = Gateway::Create(std::move(options));
    ASSERT_TRUE(gateway.ok()) << gateway.status();
    gateway_ = *std::move(gateway);

    grpc::EnableDefaultHealthCheckService(true);
    gateway_server_ = StartServer(FilesOf("svc-gateway"), {}, gateway_->service(), &gateway_port_);
    grpc::EnableDefaultHealthCheckService(false);
    ASSERT_NE(gateway_server_, nullptr);
    address_ = "ipv4:127.0.0.1:" + std::to_string(gateway_port_);
  }

  void TearDown() override {
    // The gateway's calls end first (they cancel their backend calls), then
    // the backend's.
    const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
    if (gateway_server_) gateway_server_->Shutdown(deadline);
    if (backend_) backend_->Shutdown(deadline);
    if (silent_server_) silent_server_->Shutdown(deadline);
  }

  // A client channel to the gateway as the development identity `name`.
  std::shared_ptr<grpc::Channel> Client(const std::string& name) const {
    return ClientTo(address_, name);
  }
  std::shared_ptr<grpc::Channel> ClientTo(const std::string& address,
                                          const std::string& name) const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = budstikke::testing::ReadWholeFile(CertDir() + "/ca.pem");
    ssl.pem_cert_chain = budstikke::testing::ReadWholeFile(CertDir() + "/" + name + ".pem");
    ssl.pem_private_key = budstikke::testing::ReadWholeFile(CertDir() + "/" + name + ".key");
    return grpc::CreateChannel(address, grpc::SslCredentials(ssl));
  }

  // A raw WhoAmI call through the gateway that never sends its message: once
  // started, the client half-closes or cancels it. Its final status.
  enum class Ending { kHalfClose, kCancel };
  grpc::Status WhoAmIWithoutAMessage(Ending ending) const {
    grpc::GenericStub generic(Client("kindergarten-staff"));
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    grpc::CompletionQueue cq;
    auto next = [&cq] {
      void* tag = nullptr;
      bool ok = false;
      EXPECT_TRUE(cq.Next(&tag, &ok));
      return ok;
    };
    auto call = generic.PrepareCall(&ctx, "/budstikke.v1.DirectoryService/WhoAmI", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(next());
    if (ending == Ending::kHalfClose) {
      call->WritesDone(reinterpret_cast<void*>(2));
      EXPECT_TRUE(next());
    } else {
      ctx.TryCancel();
    }
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(3));
    EXPECT_TRUE(next());
    return status;
  }

  static void SetDeadline(grpc::ClientContext* ctx, int seconds = 10) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  }

  Recorder recorder_;
  TestDirectory directory_{&recorder_};
  TestInbox inbox_{&recorder_};
  TestReferral referral_{&recorder_};
  SilentBackend silent_;
  common::Authenticator auth_{kTrustDomain};
  common::FakeAuditOutbox audit_;
  std::unique_ptr<grpc::Server> backend_;
  std::unique_ptr<grpc::Server> silent_server_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<grpc::Server> gateway_server_;
  int gateway_port_ = 0;
  std::string address_;
};

TEST(GatewayCreateTest, RefusesIncompleteOptions) {
  EXPECT_EQ(Gateway::Create(GatewayOptions{}).status(),
            absl::InvalidArgumentError("gateway: an authenticator is required"));
  common::Authenticator auth(kTrustDomain);
  GatewayOptions no_channel;
  no_channel.auth = &auth;
  no_channel.routes["budstikke.v1.InboxService"] = nullptr;
  EXPECT_EQ(Gateway::Create(no_channel).status(),
            absl::InvalidArgumentError("gateway: no channel for 'budstikke.v1.InboxService'"));
  GatewayOptions bad_name;
  bad_name.auth = &auth;
  bad_name.routes["/budstikke.v1.InboxService/Ack"] =
      grpc::CreateChannel("ipv4:127.0.0.1:1", grpc::InsecureChannelCredentials());
  EXPECT_EQ(Gateway::Create(bad_name).status(),
            absl::InvalidArgumentError("gateway: bad service name '/budstikke.v1.InboxService/Ack' "
                                       "(want e.g. pkg.Service)"));
}

TEST_F(GatewayTest, UnaryPassesThroughAsTheCallerOnBehalf) {
  auto stub = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ctx.AddMetadata("x-request-tag", "abc");
  ctx.AddMetadata("x-trace-bin", std::string("\x00\x01\xfe\xff", 4));
  v1::WhoAmIResponse resp;
  grpc::Status status = stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();

  // The backend's Authenticator sees the person, via the gateway.
  EXPECT_EQ(resp.spiffe_id(), kStaff);
  EXPECT_EQ(resp.actor().agency(), "bhg-solsikken");
  EXPECT_EQ(resp.actor().user(), "kari");
  EXPECT_EQ(resp.actor().role(), v1::ROLE_STAFF);
  EXPECT_EQ(resp.actor().service(), "gateway");

  std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].peer, kGatewayId);
  EXPECT_THAT(calls[0].metadata,
              ElementsAre(Pair(common::kOnBehalfOfMetadata, kStaff), Pair("x-request-tag", "abc"),
                          Pair("x-trace-bin", std::string("\x00\x01\xfe\xff", 4))));

  // The backend's initial and trailing metadata come back.
  auto initial = ctx.GetServerInitialMetadata();
  ASSERT_EQ(initial.count("x-backend-initial"), 1u);
  EXPECT_EQ(Str(initial.find("x-backend-initial")->second), "first");
  auto trailing = ctx.GetServerTrailingMetadata();
  ASSERT_EQ(trailing.count("x-backend-trailing"), 1u);
  EXPECT_EQ(Str(trailing.find("x-backend-trailing")->second), "last");
  ASSERT_EQ(trailing.count("x-backend-trailing-bin"), 1u);
  EXPECT_EQ(Str(trailing.find("x-backend-trailing-bin")->second), std::string("\x00\xff\x01", 3));
  EXPECT_THAT(audit_.events(), IsEmpty());
}

TEST_F(GatewayTest, PersonAssertingOnBehalfOfIsRefusedAndNotForwarded) {
  auto stub = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ctx.AddMetadata(common::kOnBehalfOfMetadata, kClinician);
  v1::WhoAmIResponse resp;
  grpc::Status status = stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "only a Budstikke service identity may assert an on-behalf-of caller");
  EXPECT_THAT(recorder_.calls(), IsEmpty());
  // WhoAmI has no audit action of its own: recorded as api.call.
  std::vector<v1::AuditEvent> events = audit_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), "api.call");
  EXPECT_EQ(events[0].resource().id(), "budstikke.v1.DirectoryService/WhoAmI");
  EXPECT_EQ(events[0].rule(), "authz.on_behalf_of");
  EXPECT_EQ(events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
}

TEST_F(GatewayTest, RefusalOfAnAuditedMethodIsRecorded) {
  auto stub = v1::ReferralService::NewStub(Client("gp-physician"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ctx.AddMetadata(common::kOnBehalfOfMetadata, kClinician);
  v1::GetReferralRequest req;
  req.set_id("r1");
  v1::Referral resp;
  grpc::Status status = stub->Get(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "only a Budstikke service identity may assert an on-behalf-of caller");
  EXPECT_THAT(recorder_.calls(), IsEmpty());
  std::vector<v1::AuditEvent> events = audit_.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].action(), "referral.read");
  EXPECT_EQ(events[0].rule(), "authz.on_behalf_of");
  EXPECT_EQ(events[0].resource().kind(), v1::RESOURCE_KIND_REFERRAL);
  EXPECT_EQ(events[0].outcome(), v1::AUDIT_OUTCOME_DENIED);
  EXPECT_EQ(events[0].actor().agency(), "legekontor-sentrum");
  EXPECT_EQ(events[0].actor().user(), "lege1");
  EXPECT_EQ(events[0].actor().role(), v1::ROLE_PHYSICIAN);
  EXPECT_EQ(events[0].actor().service(), "");
}

TEST_F(GatewayTest, RefusalIsUnavailableWhenItCannotBeRecorded) {
  audit_.SetFailing(true);
  auto stub = v1::ReferralService::NewStub(Client("gp-physician"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ctx.AddMetadata(common::kOnBehalfOfMetadata, kClinician);
  v1::GetReferralRequest req;
  v1::Referral resp;
  grpc::Status status = stub->Get(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(), ::testing::StartsWith("audit log unavailable: "));
  EXPECT_THAT(recorder_.calls(), IsEmpty());
}

TEST_F(GatewayTest, ConsoleActsForAPerson) {
  auto stub = v1::DirectoryService::NewStub(Client("svc-console"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  ctx.AddMetadata(common::kOnBehalfOfMetadata, kClinician);
  v1::WhoAmIResponse resp;
  grpc::Status status = stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(resp.spiffe_id(), kClinician);
  EXPECT_EQ(resp.actor().role(), v1::ROLE_CLINICIAN);
  EXPECT_EQ(resp.actor().service(), "gateway");
  std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].peer, kGatewayId);
  EXPECT_THAT(calls[0].metadata, ElementsAre(Pair(common::kOnBehalfOfMetadata, kClinician)));
}

TEST_F(GatewayTest, ServiceWithoutOnBehalfOfIsRefused) {
  auto stub = v1::DirectoryService::NewStub(Client("svc-console"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::WhoAmIResponse resp;
  grpc::Status status = stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(status.error_message(),
            "a service identity must name the caller it acts for (budstikke-on-behalf-of)");
  EXPECT_THAT(recorder_.calls(), IsEmpty());
}

TEST_F(GatewayTest, ErrorStatusAndDetailsPassThroughByteEqual) {
  auto stub = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetAgencyRequest req;
  req.set_id("refuse");
  v1::Agency resp;
  grpc::Status status = stub->GetAgency(&ctx, req, &resp);
  const grpc::Status want = TestRefusal();
  ASSERT_FALSE(want.error_details().empty());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), want.error_message());
  EXPECT_EQ(status.error_details(), want.error_details());
  auto trailing = ctx.GetServerTrailingMetadata();
  ASSERT_EQ(trailing.count("x-backend-trailing"), 1u);
  EXPECT_EQ(Str(trailing.find("x-backend-trailing")->second), "refused");
  EXPECT_EQ(trailing.count("grpc-status-details-bin"), 1u);
}

TEST_F(GatewayTest, DeadlinePropagates) {
  auto stub = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
  const std::vector<std::chrono::milliseconds> timeouts = {
      std::chrono::milliseconds(900), std::chrono::seconds(7), std::chrono::seconds(15),
      std::chrono::seconds(150), std::chrono::hours(20)};
  std::vector<std::chrono::system_clock::time_point> client_deadlines;
  std::vector<std::chrono::steady_clock::duration> call_times;
  v1::WhoAmIResponse resp;
  for (auto timeout : timeouts) {
    grpc::ClientContext ctx;
    const auto start = std::chrono::steady_clock::now();
    client_deadlines.push_back(std::chrono::system_clock::now() + timeout);
    ctx.set_deadline(client_deadlines.back());
    ASSERT_TRUE(stub->WhoAmI(&ctx, v1::WhoAmIRequest(), &resp).ok());
    call_times.push_back(std::chrono::steady_clock::now() - start);
  }
  grpc::ClientContext no_deadline;
  ASSERT_TRUE(stub->WhoAmI(&no_deadline, v1::WhoAmIRequest(), &resp).ok());

  std::vector<Seen> calls = recorder_.calls();
  ASSERT_EQ(calls.size(), timeouts.size() + 1);
  for (size_t i = 0; i < timeouts.size(); ++i) {
    // Never later than the client's, except by the time the request spent
    // between the hops (grpc-timeout is relative: each hop counts from when
    // it received the call; the gateway takes off 10 ms for that, which a
    // loaded machine can exceed); earlier by at most the encoding's rounding
    // on two hops and the time on the wire.
    const auto late_allowance = std::chrono::duration_cast<std::chrono::system_clock::duration>(
        std::max<std::chrono::steady_clock::duration>(
            std::chrono::steady_clock::duration::zero(),
            call_times[i] - std::chrono::milliseconds(10)));
    EXPECT_LE(calls[i].deadline, client_deadlines[i] + late_allowance)
        << "timeout " << timeouts[i].count();
    EXPECT_GT(calls[i].deadline, client_deadlines[i] - timeouts[i] / 50 - std::chrono::seconds(1))
        << "timeout " << timeouts[i].count();
  }
  EXPECT_EQ(calls.back().deadline, std::chrono::system_clock::time_point::max());
}

TEST_F(GatewayTest, ClientCancelCancelsTheBackendWithinOneSecond) {
  auto stub = v1::InboxService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  v1::SubscribeRequest req;
  req.set_from_cursor(3);
  auto reader = stub->Subscribe(&ctx, req);
  v1::InboxEvent event;
  for (uint64_t cursor = 1; cursor <= 3; ++cursor) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.cursor(), cursor);
  }
  const auto cancel_time = std::chrono::steady_clock::now();
  ctx.TryCancel();
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);

  bool cancelled = false;
  std::chrono::steady_clock::time_point ended;
  ASSERT_TRUE(recorder_.WaitStreamEnd(absl::Seconds(5), &cancelled, &ended));
  EXPECT_TRUE(cancelled);
  EXPECT_LT(ended - cancel_time, std::chrono::seconds(1));
}

TEST_F(GatewayTest, UnaryMethodsTakeTheUnaryPath) {
  EXPECT_TRUE(gateway_->ForwardsAsUnary("/budstikke.v1.DirectoryService/WhoAmI"));
  EXPECT_TRUE(gateway_->ForwardsAsUnary("/budstikke.v1.ReferralService/Send"));
  EXPECT_FALSE(gateway_->ForwardsAsUnary("/budstikke.v1.InboxService/Subscribe"));
  EXPECT_FALSE(gateway_->ForwardsAsUnary("/budstikke.v1.ReferralService/UploadAttachment"));
  EXPECT_FALSE(gateway_->ForwardsAsUnary("/budstikke.v1.ConsultationService/Ask"));  // no route
}

TEST_F(GatewayTest, ClientCancelOfAUnaryCallCancelsTheBackendWithinOneSecond) {
  ASSERT_TRUE(gateway_->ForwardsAsUnary("/budstikke.v1.DirectoryService/GetAgency"));
  auto stub = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  v1::GetAgencyRequest req;
  req.set_id("wait");
  std::chrono::steady_clock::time_point cancel_time;
  std::thread canceller([&] {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (recorder_.calls().empty() && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    cancel_time = std::chrono::steady_clock::now();
    ctx.TryCancel();
  });
  v1::Agency resp;
  const grpc::Status status = stub->GetAgency(&ctx, req, &resp);
  canceller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED);
  bool cancelled = false;
  std::chrono::steady_clock::time_point ended;
  ASSERT_TRUE(recorder_.WaitStreamEnd(absl::Seconds(5), &cancelled, &ended));
  EXPECT_TRUE(cancelled);
  EXPECT_LT(ended - cancel_time, std::chrono::seconds(1));
}

TEST_F(GatewayTest, AUnaryCallWithoutItsRequestIsInternalAndNotForwarded) {
  const grpc::Status status = WhoAmIWithoutAMessage(Ending::kHalfClose);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(status.error_message(), "no request message");
  EXPECT_THAT(recorder_.calls(), IsEmpty());
}

TEST_F(GatewayTest, AnOkWithoutAMessageFromTheBackendIsPassedOnAsTheStreamingPathDoes) {
  ASSERT_TRUE(gateway_->ForwardsAsUnary("/budstikke.v1.ConsentService/Get"));
  auto stub = v1::ConsentService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::Consent resp;
  const grpc::Status status = stub->Get(&ctx, v1::GetConsentRequest(), &resp);
  // The client's gRPC refuses a unary OK without a message (as it would from
  // the backend directly); the gateway lives on.
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << status.error_message();
  EXPECT_EQ(status.error_message(), "No message returned for unary request");
  auto directory = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext again;
  SetDeadline(&again);
  v1::WhoAmIResponse who;
  EXPECT_TRUE(directory->WhoAmI(&again, v1::WhoAmIRequest(), &who).ok());
}

TEST_F(GatewayTest, AUnaryCallCancelledBeforeItsMessageNeverReachesTheBackend) {
  EXPECT_EQ(WhoAmIWithoutAMessage(Ending::kCancel).error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_THAT(recorder_.calls(), IsEmpty());
}

TEST_F(GatewayTest, ClientDeadlineMidStreamEndsTheBackendAndTheGatewayGoesOn) {
  {
    auto stub = v1::InboxService::NewStub(Client("kindergarten-staff"));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    v1::SubscribeRequest req;
    req.set_from_cursor(2);
    auto reader = stub->Subscribe(&ctx, req);
    v1::InboxEvent event;
    ASSERT_TRUE(reader->Read(&event));
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
    // The client's channel goes away with the stub here.
  }
  bool cancelled = false;
  std::chrono::steady_clock::time_point ended;
  ASSERT_TRUE(recorder_.WaitStreamEnd(absl::Seconds(5), &cancelled, &ended));
  EXPECT_TRUE(cancelled);

  auto stub = v1::InboxService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::AckRequest req;
  req.set_up_to_cursor(2);
  v1::AckResponse resp;
  ASSERT_TRUE(stub->Ack(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.acked_cursor(), 2u);
}

TEST_F(GatewayTest, ClientConnectionLostMidStreamEndsTheBackendAndTheGatewayGoesOn) {
  TcpRelay relay(gateway_port_);
  auto stub = v1::InboxService::NewStub(
      ClientTo("ipv4:127.0.0.1:" + std::to_string(relay.port()), "kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 30);
  v1::SubscribeRequest req;
  req.set_from_cursor(5);
  auto reader = stub->Subscribe(&ctx, req);
  v1::InboxEvent event;
  for (uint64_t cursor = 1; cursor <= 5; ++cursor) {
    ASSERT_TRUE(reader->Read(&event));
    EXPECT_EQ(event.cursor(), cursor);
  }
  const auto cut_time = std::chrono::steady_clock::now();
  relay.Cut();
  bool cancelled = false;
  std::chrono::steady_clock::time_point ended;
  ASSERT_TRUE(recorder_.WaitStreamEnd(absl::Seconds(5), &cancelled, &ended));
  EXPECT_TRUE(cancelled);
  EXPECT_LT(ended - cut_time, std::chrono::seconds(1));
  EXPECT_FALSE(reader->Read(&event));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);

  auto direct = v1::InboxService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ack_ctx;
  SetDeadline(&ack_ctx);
  v1::AckRequest ack;
  ack.set_up_to_cursor(5);
  v1::AckResponse resp;
  ASSERT_TRUE(direct->Ack(&ack_ctx, ack, &resp).ok());
  EXPECT_EQ(resp.acked_cursor(), 5u);
}

TEST_F(GatewayTest, ThousandStreamedMessagesKeepTheirOrder) {
  auto stub = v1::InboxService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 60);
  v1::SubscribeRequest req;
  req.set_from_cursor(1000);
  auto reader = stub->Subscribe(&ctx, req);
  v1::InboxEvent event;
  std::vector<uint64_t> cursors;
  while (cursors.size() < 1000 && reader->Read(&event)) cursors.push_back(event.cursor());
  ASSERT_EQ(cursors.size(), 1000u);
  for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(cursors[i], i + 1) << "at " << i;
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(GatewayTest, SlowClientHoldsTheBackendBack) {
  // 1000 events of 64 KiB (64 MiB) for a client that reads one and pauses:
  // the backend gets only as far as the HTTP/2 windows and socket buffers of
  // the two hops allow; a gateway that buffered without bound would let it
  // write all 1000.
  auto stub = v1::InboxService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 60);
  ctx.AddMetadata(kPayloadHeader, std::to_string(64 * 1024));
  v1::SubscribeRequest req;
  req.set_from_cursor(1000);
  auto reader = stub->Subscribe(&ctx, req);
  v1::InboxEvent event;
  ASSERT_TRUE(reader->Read(&event));
  absl::SleepFor(absl::Seconds(1));
  const int written = recorder_.written();
  EXPECT_LT(written, 500) << "the backend wrote " << written << " events of 64 KiB";
  RecordProperty("backend_events_written_while_paused", written);
  uint64_t next = 2;
  while (next <= 1000 && reader->Read(&event)) ASSERT_EQ(event.cursor(), next++);
  EXPECT_EQ(next, 1001u);
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(GatewayTest, ClientStreamingUploadArrivesInOrder) {
  auto stub = v1::ReferralService::NewStub(Client("gp-physician"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::AttachmentInfo info;
  auto writer = stub->UploadAttachment(&ctx, &info);
  v1::UploadAttachmentRequest part;
  part.mutable_metadata()->set_filename("notat.txt");
  ASSERT_TRUE(writer->Write(part));
  std::string want;
  for (int i = 0; i < 200; ++i) {
    part.set_chunk(std::to_string(i) + ",");
    want += part.chunk();
    ASSERT_TRUE(writer->Write(part));
  }
  ASSERT_TRUE(writer->WritesDone());
  grpc::Status status = writer->Finish();
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(info.filename(), "notat.txt");
  EXPECT_EQ(info.id(), want);
  EXPECT_EQ(info.size(), want.size());
}

TEST_F(GatewayTest, BackendEndingAnUploadEarlyEndsItWithoutTheClientsHalfClose) {
  auto stub = v1::ReferralService::NewStub(Client("gp-physician"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx, 20);
  v1::AttachmentInfo info;
  auto writer = stub->UploadAttachment(&ctx, &info);
  v1::UploadAttachmentRequest part;
  part.mutable_metadata()->set_filename("refuse.txt");
  ASSERT_TRUE(writer->Write(part));
  const auto start = std::chrono::steady_clock::now();
  grpc::Status status = writer->Finish();  // no WritesDone: the stream stays open
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "filename refused");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(GatewayTest, UnknownServiceIsUnimplemented) {
  auto stub = v1::ConsultationService::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetConsultationRequest req;
  v1::Consultation resp;
  grpc::Status status = stub->Get(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(status.error_message(), "unknown service 'budstikke.v1.ConsultationService'");
}

TEST_F(GatewayTest, BackendDownIsUnavailable) {
  auto stub = v1::AuditService::NewStub(Client("auditor"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  v1::GetCheckpointRequest req;
  v1::Checkpoint resp;
  grpc::Status status = stub->GetCheckpoint(&ctx, req, &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(GatewayTest, HealthIsTheGatewaysOwn) {
  auto stub = grpc::health::v1::Health::NewStub(Client("kindergarten-staff"));
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status status = stub->Check(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_THAT(recorder_.calls(), IsEmpty());
}

TEST_F(GatewayTest, ConcurrentCallsFromManyClients) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto stub = v1::DirectoryService::NewStub(Client("kindergarten-staff"));
      for (int i = 0; i < 25; ++i) {
        grpc::ClientContext ctx;
        SetDeadline(&ctx);
        v1::GetAgencyRequest req;
        req.set_id("a" + std::to_string(i));
        v1::Agency resp;
        if (stub->GetAgency(&ctx, req, &resp).ok() && resp.id() == req.id()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 200);
}

}  // namespace
}  // namespace budstikke::gateway
