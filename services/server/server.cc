#include "services/server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "budstikke/v1/admin.grpc.pb.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "services/admin/admin.h"
#include "services/admin/admin_service.h"
#include "services/audit/audit.h"
#include "services/audit/audit_service.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/common/key_file.h"
#include "services/common/pii/scanner.h"
#include "services/common/policy/rules.h"
#include "services/common/server_threads.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/tls.h"
#include "services/consent/consent.h"
#include "services/consent/consent_service.h"
#include "services/consultation/consultation.h"
#include "services/consultation/consultation_service.h"
#include "services/directory/directory.h"
#include "services/directory/directory_service.h"
#include "services/inbox/inbox.h"
#include "services/inbox/inbox_service.h"
#include "services/referral/referral.h"
#include "services/referral/referral_service.h"
#include "services/server/metrics.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"
#include "storage/status_macros.h"
#include "storage/store.h"
#include "tlog/note.h"

namespace budstikke::server {

// TEST ONLY (--test-fail-store-writes-file): polls a file and makes the
// store's writes fail while it exists.
class FaultFileWatcher {
 public:
  FaultFileWatcher(std::string path, std::shared_ptr<storage::FaultInjector> faults)
      : path_(std::move(path)), faults_(std::move(faults)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        struct stat st;
        faults_->SetFailWrites(::stat(path_.c_str(), &st) == 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  ~FaultFileWatcher() {
    stop_.store(true);
    thread_.join();
  }

 private:
  std::string path_;
  std::shared_ptr<storage::FaultInjector> faults_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Serving status from several audit sources (the outbox of this process and
// the log drainer): NOT_SERVING while any of them fails. Observers may fire
// from any thread, also before the gRPC server exists.
class HealthAggregator {
 public:
  enum Source : unsigned { kOutbox = 1, kDrainer = 2 };

  std::function<void(bool)> ObserverFor(Source source) {
    return [this, source](bool healthy) { Update(source, healthy); };
  }
  void Attach(grpc::Server* server) {
    std::lock_guard<std::mutex> lock(mu_);
    server_ = server;
    Apply();
  }
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    server_ = nullptr;
  }

 private:
  void Update(Source source, bool healthy) {
    std::lock_guard<std::mutex> lock(mu_);
    failing_ = healthy ? (failing_ & ~source) : (failing_ | source);
    Apply();
  }
  void Apply() {
    if (server_ != nullptr) server_->GetHealthCheckService()->SetServingStatus(failing_ == 0);
  }

  std::mutex mu_;
  unsigned failing_ = 0;
  grpc::Server* server_ = nullptr;
};

struct BudstikkeServer::Impl {
  HealthAggregator health;
  std::unique_ptr<FaultFileWatcher> fault_watcher;  // test hook
  ServerConfig config;
  common::SystemClock clock;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::Keyring> keyring;
  std::unique_ptr<common::Authenticator> auth;
  std::unique_ptr<common::StoreAuditOutbox> audit_outbox;
  std::unique_ptr<directory::Directory> directory;
  std::unique_ptr<admin::Admin> admin;
  std::unique_ptr<storage::Envelope> envelope;
  std::unique_ptr<pii::Scanner> scanner;
  std::unique_ptr<inbox::Inbox> inbox;
  std::unique_ptr<consultation::Consultations> consultations;
  std::unique_ptr<consent::ConsentRegistry> consents;
  std::unique_ptr<referral::ReferralDesk> referrals;
  std::vector<std::unique_ptr<grpc::Service>> services;
  // Runs the services' unary domain calls (destroyed after `server`, so idle).
  std::unique_ptr<common::DomainExecutor> executor;
  std::unique_ptr<tlog::Signer> audit_signer;
  // Audit log (after the signer: destroyed first; its thread signs on stop).
  std::unique_ptr<storage::Pseudonymizer> audit_pseudonymizer;
  std::unique_ptr<audit::AuditLog> audit_log;
  std::unique_ptr<audit::Audit> audit;
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
    auto signer =
        tlog::Signer::FromPemFile(config.trust_domain + "/audit", config.audit_signing_key_file);
    if (!signer.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(signer.error().code),
                          signer.error().message);
    }
    impl->audit_signer = std::move(signer).value();
  }

  storage::Store::Options options;
  options.sync_writes = config.sync_writes;
  if (!config.test_fail_store_writes_file.empty()) {
    spdlog::warn("TEST HOOK: store writes fail while {} exists",
                 config.test_fail_store_writes_file);
    options.fault_injector = std::make_shared<storage::FaultInjector>();
    impl->fault_watcher = std::make_unique<FaultFileWatcher>(config.test_fail_store_writes_file,
                                                             options.fault_injector);
  }
  options.column_families = storage::Keyring::ColumnFamilies();
  options.column_families.push_back(directory::kColumnFamily);
  options.column_families.push_back(common::kAuditOutboxColumnFamily);
  for (const std::string& cf : audit::AuditLog::ColumnFamilies()) {
    options.column_families.push_back(cf);
  }
  options.column_families.push_back(admin::kAdminColumnFamily);
  options.column_families.push_back(consultation::kColumnFamily);
  options.column_families.push_back(inbox::kColumnFamily);
  options.column_families.push_back(consent::kColumnFamily);
  for (const std::string& cf : referral::ReferralDesk::ColumnFamilies()) {
    options.column_families.push_back(cf);
  }
  auto store = storage::Store::Open(config.data_dir, options);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("cannot open data dir ", config.data_dir, ": ", store.status().message()));
  }
  impl->store = *std::move(store);
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->keyring,
                             storage::Keyring::Create(master_key, impl->store.get()));
  impl->auth = std::make_unique<common::Authenticator>(config.trust_domain);
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->audit_outbox,
                             common::StoreAuditOutbox::Create(impl->store.get(), &impl->clock));
  // Refusals by the authorization table are audited (DENIED, authz.role).
  impl->auth->SetAuditOutbox(impl->audit_outbox.get());

  BUDSTIKKE_ASSIGN_OR_RETURN(
      impl->directory,
      directory::Directory::Create(impl->store.get(), &impl->clock, impl->audit_outbox.get(),
                                   config.operator_agency));
  if (!config.seed_directory.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string seed,
                               common::ReadFile("seed directory", config.seed_directory));
    BUDSTIKKE_ASSIGN_OR_RETURN(int added, impl->directory->LoadSeedIfEmpty(seed));
    if (added > 0) spdlog::info("seeded directory with {} agencies", added);
  }

  if (targets.count("directory")) {
    impl->services.push_back(
        std::make_unique<directory::DirectoryServiceImpl>(impl->directory.get(), impl->auth.get()));
  }
  // The consultation and referral services run their unary domain calls on
  // dedicated threads (services/common/domain_executor.h).
  if (targets.count("consultation") || targets.count("referral")) {
    impl->executor = std::make_unique<common::DomainExecutor>(
        common::DomainExecutor::DefaultThreads(config.sync_writes));
  }
  // One rule set for every service: the policy module owns the rules.
  policy::PolicyRules rules;
  rules.refuse_synthetic_ids = config.refuse_synthetic_ids;
  BUDSTIKKE_ASSIGN_OR_RETURN(rules.consultation_recipients,
                             policy::ParseAgencyTypeNames(config.consultation_recipient_types));
  if (targets.count("consultation")) {
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->envelope, storage::Envelope::Create(impl->keyring.get()));
    pii::ScannerConfig scanner_config;
    scanner_config.allow_synthetic = !config.refuse_synthetic_ids;
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->scanner, pii::Scanner::Create(scanner_config));
    if (!impl->inbox) {
      BUDSTIKKE_ASSIGN_OR_RETURN(impl->inbox,
                                 inbox::Inbox::Create(impl->store.get(), &impl->clock));
    }
    consultation::Consultations::Deps deps;
    deps.store = impl->store.get();
    deps.keyring = impl->keyring.get();
    deps.envelope = impl->envelope.get();
    deps.audit = impl->audit_outbox.get();
    deps.directory = impl->directory.get();
    deps.inbox = impl->inbox.get();
    deps.scanner = impl->scanner.get();
    deps.clock = &impl->clock;
    consultation::Consultations::Options consultation_options;
    consultation_options.recipient_types = rules.consultation_recipients;
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->consultations,
                               consultation::Consultations::Create(deps, consultation_options));
    impl->consultations->StartRetentionJob(absl::Minutes(10));
    impl->services.push_back(std::make_unique<consultation::ConsultationServiceImpl>(
        impl->consultations.get(), impl->auth.get(), impl->executor.get()));
  }
  // Consent and referral: in-process ConsentChecker / ConsentObserver (the
  // referral service needs the consent registry even when only it is served).
  if (targets.count("consent") || targets.count("referral")) {
    if (!impl->inbox) {
      BUDSTIKKE_ASSIGN_OR_RETURN(impl->inbox,
                                 inbox::Inbox::Create(impl->store.get(), &impl->clock));
    }
    consent::ConsentOptions consent_options;
    consent_options.rules = rules;
    BUDSTIKKE_ASSIGN_OR_RETURN(
        impl->consents,
        consent::ConsentRegistry::Create(impl->store.get(), impl->keyring.get(),
                                         impl->audit_outbox.get(), impl->inbox.get(),
                                         impl->directory.get(), &impl->clock, consent_options));
    referral::ReferralOptions referral_options;
    referral_options.rules = rules;
    referral_options.urgent_ack = absl::Seconds(config.urgent_ack_minutes * 60);
    referral_options.on_escalation = [server = impl.get()] {
      if (server->metrics) server->metrics->CountEscalation();
    };
    BUDSTIKKE_ASSIGN_OR_RETURN(
        impl->referrals, referral::ReferralDesk::Create(impl->store.get(), impl->keyring.get(),
                                                        impl->audit_outbox.get(), impl->inbox.get(),
                                                        impl->directory.get(), impl->consents.get(),
                                                        &impl->clock, referral_options));
    impl->consents->SetObserver(impl->referrals.get());
    impl->referrals->StartEscalationJob(absl::Seconds(1));
  }
  if (targets.count("consent")) {
    impl->services.push_back(
        std::make_unique<consent::ConsentServiceImpl>(impl->consents.get(), impl->auth.get()));
  }
  if (targets.count("referral")) {
    impl->services.push_back(std::make_unique<referral::ReferralServiceImpl>(
        impl->referrals.get(), impl->auth.get(), impl->executor.get()));
  }
  if (targets.count("inbox")) {
    if (!impl->inbox) {
      BUDSTIKKE_ASSIGN_OR_RETURN(impl->inbox,
                                 inbox::Inbox::Create(impl->store.get(), &impl->clock));
    }
    impl->services.push_back(
        std::make_unique<inbox::InboxServiceImpl>(impl->inbox.get(), impl->auth.get()));
  }
  if (targets.count("audit")) {
    BUDSTIKKE_ASSIGN_OR_RETURN(
        impl->audit_log,
        audit::AuditLog::Create(impl->store.get(), impl->audit_signer.get(), &impl->clock));
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->audit_pseudonymizer,
                               storage::Pseudonymizer::Create(*impl->keyring));
    common::NationalIdOptions id_options;
    id_options.allow_synthetic = !config.refuse_synthetic_ids;
    BUDSTIKKE_ASSIGN_OR_RETURN(
        impl->audit,
        audit::Audit::Create(impl->audit_log.get(), impl->audit_outbox.get(),
                             impl->audit_pseudonymizer.get(), impl->directory.get(), id_options));
    impl->services.push_back(
        std::make_unique<audit::AuditServiceImpl>(impl->audit.get(), impl->auth.get()));
  }
  if (targets.count("admin")) {
    admin::AdminDeps deps{
        impl->store.get(), impl->keyring.get(),    impl->directory.get(), impl->audit_outbox.get(),
        &impl->clock,      config.operator_agency, config.trust_domain,   targets,
        BUDSTIKKE_VERSION};
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->admin, admin::Admin::Create(std::move(deps)));
    impl->services.push_back(
        std::make_unique<admin::AdminServiceImpl>(impl->admin.get(), impl->auth.get()));
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
  common::ApplyServerThreadOptions(builder);
  int port = 0;
  builder.AddListeningPort(c.listen,
                           common::MakeServerCredentials({c.tls_cert, c.tls_key, c.tls_ca}), &port);
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
  // No audit, no access: a failing audit write turns the whole server
  // NOT_SERVING until every audit source works again.
  impl_->audit_outbox->SetHealthObserver(impl_->health.ObserverFor(HealthAggregator::kOutbox));
  if (impl_->audit_log) {
    impl_->audit_log->SetHealthObserver(impl_->health.ObserverFor(HealthAggregator::kDrainer));
  }
  impl_->server = builder.BuildAndStart();
  if (impl_->server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", c.listen, " (address in use or not local?)"));
  }
  impl_->health.Attach(impl_->server.get());
  if (impl_->audit_log) impl_->audit_log->Start();
  return port;
}

void BudstikkeServer::Wait() {
  if (impl_->server) impl_->server->Wait();
}

void BudstikkeServer::Shutdown(int grace_seconds) {
  if (!impl_->server) return;
  impl_->health.Detach();
  impl_->server->GetHealthCheckService()->SetServingStatus(false);
  if (impl_->inbox) impl_->inbox->Shutdown();  // ends inbox streams (UNAVAILABLE)
  impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(grace_seconds));
}

}  // namespace budstikke::server
