#include "services/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/admin.grpc.pb.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/common/key_file.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/tls.h"
#include "services/directory/directory.h"
#include "services/directory/directory_service.h"
#include "services/server/metrics.h"
#include "storage/keyring.h"
#include "storage/status_macros.h"
#include "storage/store.h"
#include "tlog/note.h"

namespace budstikke::server {

struct BudstikkeServer::Impl {
  ServerConfig config;
  common::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::Keyring> keyring;
  std::unique_ptr<common::Authenticator> auth;
  std::unique_ptr<common::StoreAuditOutbox> audit_outbox;
  std::unique_ptr<directory::Directory> directory;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<tlog::Signer> audit_signer;
  std::unique_ptr<Metrics> metrics;
  std::unique_ptr<grpc::Server> server;
};

BudstikkeServer::BudstikkeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BudstikkeServer::~BudstikkeServer() = default;

absl::StatusOr<std::unique_ptr<BudstikkeServer>> BudstikkeServer::Create(
    const ServerConfig& config) {
  BUDSTIKKE_RETURN_IF_ERROR(Validate(config));
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  const std::set<std::string> targets = config.Targets();

  // Read the master key first: a bad key file must not leave a new data dir.
  BUDSTIKKE_ASSIGN_OR_RETURN(storage::SecretBytes master_key,
                             storage::Keyring::ReadMasterKeyFile(config.master_key_file));

  if (!config.audit_signing_key_file.empty()) {
    auto signer = tlog::Signer::FromPemFile(config.trust_domain + "/audit",
                                            config.audit_signing_key_file);
    if (!signer.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(signer.error().code),
                          signer.error().message);
    }
    impl->audit_signer = std::move(signer).value();
  }

  storage::Store::Options options;
  options.sync_writes = config.sync_writes;
  options.column_families = storage::Keyring::ColumnFamilies();
  options.column_families.push_back(directory::kColumnFamily);
  options.column_families.push_back(common::kAuditOutboxColumnFamily);
  auto store = storage::Store::Open(config.data_dir, options);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("cannot open data dir ", config.data_dir, ": ",
                                     store.status().message()));
  }
  impl->store = *std::move(store);
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->keyring,
                             storage::Keyring::Create(master_key, impl->store.get()));
  impl->auth = std::make_unique<common::Authenticator>(config.trust_domain);
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->audit_outbox,
                             common::StoreAuditOutbox::Create(impl->store.get(), &impl->clock));

  BUDSTIKKE_ASSIGN_OR_RETURN(
      impl->directory,
      directory::Directory::Create(impl->store.get(), &impl->clock, config.operator_agency));
  if (!config.seed_directory.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string seed,
                               common::ReadFile("seed directory", config.seed_directory));
    BUDSTIKKE_ASSIGN_OR_RETURN(int added, impl->directory->LoadSeedIfEmpty(seed));
    if (added > 0) spdlog::info("seeded directory with {} agencies", added);
  }

  if (targets.count("directory")) {
    impl->services.push_back(std::make_unique<directory::DirectoryServiceImpl>(
        impl->directory.get(), impl->auth.get()));
  }
  // Services whose domain is not built yet answer UNIMPLEMENTED for every RPC.
  if (targets.count("consultation")) {
    impl->services.push_back(std::make_unique<v1::ConsultationService::Service>());
  }
  if (targets.count("consent")) {
    impl->services.push_back(std::make_unique<v1::ConsentService::Service>());
  }
  if (targets.count("referral")) {
    impl->services.push_back(std::make_unique<v1::ReferralService::Service>());
  }
  if (targets.count("inbox")) {
    impl->services.push_back(std::make_unique<v1::InboxService::Service>());
  }
  if (targets.count("audit")) {
    impl->services.push_back(std::make_unique<v1::AuditService::Service>());
  }
  if (targets.count("admin")) {
    impl->services.push_back(std::make_unique<v1::AdminService::Service>());
  }

  if (!config.metrics_listen.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->metrics, Metrics::Create(config.metrics_listen));
  }
  return std::unique_ptr<BudstikkeServer>(new BudstikkeServer(std::move(impl)));
}

absl::StatusOr<int> BudstikkeServer::Start() {
  const ServerConfig& c = impl_->config;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      c.listen, common::MakeServerCredentials({c.tls_cert, c.tls_key, c.tls_ca}), &port);
  builder.SetMaxReceiveMessageSize(c.max_message_bytes);
  builder.SetMaxSendMessageSize(c.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, c.max_concurrent_streams);
  // Keepalive: ping idle connections every 60 s; allow client pings every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  for (auto& service : impl_->services) builder.RegisterService(service.get());
  if (impl_->metrics) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(impl_->metrics->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  impl_->server = builder.BuildAndStart();
  if (impl_->server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", c.listen,
                                               " (address in use or not local?)"));
  }
  impl_->server->GetHealthCheckService()->SetServingStatus(true);
  // No audit, no access: a failing audit write turns the whole server NOT_SERVING.
  grpc::Server* server = impl_->server.get();
  impl_->audit_outbox->SetHealthObserver(
      [server](bool healthy) { server->GetHealthCheckService()->SetServingStatus(healthy); });
  return port;
}

void BudstikkeServer::Wait() {
  if (impl_->server) impl_->server->Wait();
}

void BudstikkeServer::Shutdown(int grace_seconds) {
  if (!impl_->server) return;
  impl_->server->GetHealthCheckService()->SetServingStatus(false);
  impl_->server->Shutdown(std::chrono::system_clock::now() +
                          std::chrono::seconds(grace_seconds));
}

}  // namespace budstikke::server
