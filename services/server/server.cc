#include "services/server/server.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <openssl/crypto.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "budstikke/v1/admin.grpc.pb.h"
#include "budstikke/v1/audit.grpc.pb.h"
#include "budstikke/v1/consent.grpc.pb.h"
#include "budstikke/v1/consultation.grpc.pb.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "services/admin/admin.h"
#include "services/admin/admin_service.h"
#include "services/admin/key_admin_remote.h"
#include "services/admin/key_target.h"
#include "services/audit/audit.h"
#include "services/audit/audit_service.h"
#include "services/audit/ingest_service.h"
#include "services/common/audit_event.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/common/key_file.h"
#include "services/common/outbox/ingest_ledger.h"
#include "services/common/outbox/outbox_drainer.h"
#include "services/common/outbox/outbox_inbox_writer.h"
#include "services/common/periodic_job.h"
#include "services/common/pii/scanner.h"
#include "services/common/policy/rules.h"
#include "services/common/refusal_aggregator.h"
#include "services/common/remote/remote.h"
#include "services/common/server_threads.h"
#include "services/common/store_audit_outbox.h"
#include "services/common/stream_watchdog.h"
#include "services/common/tls.h"
#include "services/consent/consent.h"
#include "services/consent/consent_service.h"
#include "services/consultation/consultation.h"
#include "services/consultation/consultation_service.h"
#include "services/directory/directory.h"
#include "services/directory/directory_service.h"
#include "services/gateway/gateway.h"
#include "services/inbox/inbox.h"
#include "services/inbox/inbox_service.h"
#include "services/inbox/ingest_service.h"
#include "services/referral/referral.h"
#include "services/referral/referral_service.h"
#include "services/server/heap.h"
#include "services/server/metrics.h"
#include "services/server/reflection.h"
#include "services/server/topology.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/pseudonymizer.h"
#include "storage/status_macros.h"
#include "storage/store.h"
#include "tlog/note.h"

namespace budstikke::server {

// Readiness: the gRPC health service name that reports whether this process
// can do its work (outboxes delivering, audit writes succeeding).
constexpr char kReadyService[] = "budstikke.ready";

// How often the allocator's free pages go back to the OS (ReleaseFreeHeap):
// what a burst freed is out of the RSS within this time.
constexpr absl::Duration kHeapReleaseInterval = absl::Seconds(10);
// What the allocator's thread caches may hold together (LimitThreadCaches):
// tcmalloc's default, 32 MiB, was full at rest after a fill (bench/scale.py);
// half of it keeps 16 MiB out of the RSS. (A quarter cost Ask and Send 2-4%
// of their rate in a paired run; docs/PERFORMANCE.md, At scale.)
constexpr size_t kThreadCacheBytes = 16u << 20;

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

// Readiness from several sources (the audit outbox of this process, the
// audit log's drainer, the delivery of each outbox to another process):
// "budstikke.ready" is NOT_SERVING while any of them fails; the empty service
// name (liveness) stays SERVING while the process runs. Observers may fire
// from any thread, also before the gRPC servers exist.
class HealthAggregator {
 public:
  std::function<void(bool)> ObserverFor(std::string source) {
    return [this, source](bool healthy) { Update(source, healthy); };
  }
  void Attach(grpc::Server* server) {
    std::lock_guard<std::mutex> lock(mu_);
    servers_.push_back(server);
    Apply();
  }
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    servers_.clear();
    stopping_ = true;
  }
  // The status of `service` ("" or kReadyService); nullopt for others.
  std::optional<bool> Serving(const std::string& service) {
    std::lock_guard<std::mutex> lock(mu_);
    if (service.empty()) return !stopping_;
    if (service == kReadyService) return !stopping_ && failing_.empty();
    return std::nullopt;
  }

 private:
  void Update(const std::string& source, bool healthy) {
    std::lock_guard<std::mutex> lock(mu_);
    if (healthy) {
      failing_.erase(source);
    } else {
      failing_.insert(source);
    }
    Apply();
  }
  void Apply() {
    for (grpc::Server* server : servers_) {
      server->GetHealthCheckService()->SetServingStatus("", true);
      server->GetHealthCheckService()->SetServingStatus(kReadyService, failing_.empty());
    }
  }

  std::mutex mu_;
  std::set<std::string> failing_;
  std::vector<grpc::Server*> servers_;
  bool stopping_ = false;
};

// grpc.health.v1.Health/Check of the --health-listen server, answered from
// the aggregator (gRPC's default health service needs a server with other
// services; this one has none). Watch is not offered: probes use Check.
class ProbeHealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit ProbeHealthService(HealthAggregator* health) : health_(health) {}
  grpc::Status Check(grpc::ServerContext*, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::health::v1::HealthCheckResponse* resp) override {
    std::optional<bool> serving = health_->Serving(req->service());
    if (!serving) return grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown service");
    resp->set_status(*serving ? grpc::health::v1::HealthCheckResponse::SERVING
                              : grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    return grpc::Status::OK;
  }

 private:
  HealthAggregator* health_;
};

struct BudstikkeServer::Impl {
  HealthAggregator health;
  std::unique_ptr<FaultFileWatcher> fault_watcher;  // test hook
  ServerConfig config;
  std::set<std::string> targets;
  common::SystemClock clock;
  // Channels to the services this process reaches remotely (--peers).
  std::map<std::string, common::Peer> peers;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<storage::Keyring> keyring;
  std::unique_ptr<common::Authenticator> auth;
  // Where this process's audit events go: its own outbox (a process with
  // data), or the audit service directly (gateway, admin alone).
  // Repeated refusals: one event per (actor, action, rule, resource) and 60 s
  // window (before the outboxes that use it: destroyed after them).
  std::unique_ptr<common::RefusalAggregator> refusal_aggregator;
  std::unique_ptr<common::StoreAuditOutbox> audit_outbox;
  std::unique_ptr<common::RemoteAuditOutbox> remote_audit;
  common::AuditOutbox* audit_sink = nullptr;
  // Agency lookups: the directory here, or the directory service (cached).
  std::unique_ptr<directory::Directory> directory;
  std::unique_ptr<common::RemoteAgencyLookup> remote_directory;
  const common::AgencyLookup* agencies = nullptr;
  // Notifications: the inbox here, or this process's inbox outbox.
  std::unique_ptr<common::OutboxInboxWriter> inbox_outbox;
  common::InboxWriter* inbox_writer = nullptr;
  std::unique_ptr<common::IngestLedger> ledger;
  std::unique_ptr<common::RemoteConsentChecker> remote_consents;
  std::unique_ptr<common::RateLimiter> rate_limiter;
  std::unique_ptr<common::RemoteConsentObserver> remote_referrals;
  // Key management and backups of this process's store, and (admin) of the
  // other processes with data.
  std::unique_ptr<admin::LocalKeyTarget> key_target;
  std::vector<std::unique_ptr<admin::RemoteKeyTarget>> remote_key_targets;
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
  // --target gateway: forwards the public API to the processes in --peers.
  std::unique_ptr<gateway::Gateway> gateway;
  // Deliver this process's outboxes to the audit and inbox services (stopped
  // before the store closes: declared after it).
  std::vector<std::unique_ptr<common::OutboxDrainer>> drainers;
  std::unique_ptr<ProbeHealthService> probe_health;
  std::unique_ptr<grpc::Server> health_server;
  std::unique_ptr<grpc::Server> server;
  // Records the aggregated refusals of ended windows every second (destroyed
  // first: it uses audit_sink).
  common::PeriodicJob refusal_flush;
  // Gives the allocator's free pages back to the OS every 10 s (heap.h).
  common::PeriodicJob heap_release;

  bool Hosts(const char* target) const { return targets.count(target) > 0; }
  // Part of a deployment of several processes (microservices mode): serves
  // the internal API its peers call.
  bool Split() const {
    for (const char* t : kAllTargets) {
      if (!Hosts(t)) return true;
    }
    return false;
  }
  // The peer for `service` (Validate() checked that every needed one exists).
  const common::Peer& PeerFor(const std::string& service) const { return peers.at(service); }
};

namespace {

using Impl = BudstikkeServer::Impl;

// Request metadata a server takes (gRPC's default is 8 KiB), and what the
// gateway takes from clients: half, so a forwarded call always fits.
constexpr int kMaxMetadataBytes = 16 * 1024;
constexpr int kGatewayMaxMetadataBytes = 8 * 1024;
// The longest pause between attempts to reach a peer that is down.
constexpr int kPeerReconnectBackoffMs = 1000;

absl::Status ConnectPeers(Impl* impl) {
  const ServerConfig& c = impl->config;
  std::shared_ptr<grpc::ChannelCredentials> creds =
      common::MakeChannelCredentials({c.tls_cert, c.tls_key, c.tls_ca}, c.tls_refresh_seconds);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(c.max_message_bytes);
  args.SetMaxSendMessageSize(c.max_message_bytes);
  args.SetInt(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);  // replies, as a service takes
  // Peers are processes of the same deployment: a connection attempt is cheap,
  // so keep attempts at most 1 s apart (gRPC's default backoff grows to 120 s
  // while a peer is down, and a restarted service stayed unreachable that long).
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, kPeerReconnectBackoffMs / 5);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kPeerReconnectBackoffMs);
  for (const std::string& service : RemoteNeeds(impl->targets)) {
    common::Peer peer;
    peer.name = service;
    peer.channel = grpc::CreateCustomChannel(c.peers.at(service), creds, args);
    impl->peers[service] = std::move(peer);
  }
  return absl::OkStatus();
}

std::vector<std::string> ColumnFamiliesFor(const Impl& impl) {
  std::vector<std::string> cfs = storage::Keyring::ColumnFamilies();
  cfs.push_back(common::kAuditOutboxColumnFamily);
  if (impl.Hosts("directory")) cfs.push_back(directory::kColumnFamily);
  if (impl.Hosts("audit")) {
    for (const std::string& cf : audit::AuditLog::ColumnFamilies()) {
      if (cf != common::kAuditOutboxColumnFamily) cfs.push_back(cf);
    }
  }
  cfs.push_back(admin::kAdminColumnFamily);
  if (impl.Hosts("consultation")) cfs.push_back(consultation::kColumnFamily);
  if (impl.Hosts("inbox")) cfs.push_back(inbox::kColumnFamily);
  if (!impl.Hosts("inbox")) cfs.push_back(common::kInboxOutboxColumnFamily);
  if (impl.Hosts("consent")) cfs.push_back(consent::kColumnFamily);
  if (impl.Hosts("referral")) {
    for (const std::string& cf : referral::ReferralDesk::ColumnFamilies()) cfs.push_back(cf);
  }
  if (impl.Hosts("audit") || impl.Hosts("inbox")) cfs.push_back(common::kIngestColumnFamily);
  return cfs;
}

// The store, keyring and audit outbox of a process that keeps data.
absl::Status OpenData(Impl* impl) {
  const ServerConfig& config = impl->config;
  // Read the master key first: a bad key file must not leave a new data dir.
  BUDSTIKKE_ASSIGN_OR_RETURN(storage::SecretBytes master_key,
                             storage::Keyring::ReadMasterKeyFile(config.master_key_file));
  storage::Store::Options options;
  options.sync_writes = config.sync_writes;
  if (!config.sync_writes) {
    spdlog::warn("--no-sync-writes: acknowledged writes survive a process crash, not a power loss");
  }
  if (!config.test_fail_store_writes_file.empty()) {
    spdlog::warn("TEST HOOK: store writes fail while {} exists",
                 config.test_fail_store_writes_file);
    options.fault_injector = std::make_shared<storage::FaultInjector>();
    impl->fault_watcher = std::make_unique<FaultFileWatcher>(config.test_fail_store_writes_file,
                                                             options.fault_injector);
  }
  options.column_families = ColumnFamiliesFor(*impl);
  auto store = storage::Store::Open(config.data_dir, options);
  if (!store.ok()) {
    return absl::Status(
        store.status().code(),
        absl::StrCat("cannot open data dir ", config.data_dir, ": ", store.status().message()));
  }
  impl->store = *std::move(store);
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->keyring,
                             storage::Keyring::Create(master_key, impl->store.get()));
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->audit_outbox,
                             common::StoreAuditOutbox::Create(impl->store.get(), &impl->clock));
  impl->audit_sink = impl->audit_outbox.get();
  if (impl->Hosts("audit") || impl->Hosts("inbox")) {
    impl->ledger = std::make_unique<common::IngestLedger>(impl->store.get());
  }
  return absl::OkStatus();
}

// The name under which this process's outboxes deliver: its targets and a
// random id kept in its data dir (so another process with the same targets,
// e.g. a second data dir, never shares a deduplication mark with it).
absl::StatusOr<std::string> OutboxSource(Impl* impl) {
  constexpr char kSourceIdKey[] = "source-id";
  std::string id;
  absl::StatusOr<std::string> stored =
      impl->store->Get(common::kAuditOutboxColumnFamily, kSourceIdKey);
  if (stored.ok()) {
    id = *stored;
  } else if (absl::IsNotFound(stored.status())) {
    absl::BitGen gen;
    id = absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
    BUDSTIKKE_RETURN_IF_ERROR(impl->store->Put(common::kAuditOutboxColumnFamily, kSourceIdKey, id));
  } else {
    return stored.status();
  }
  return absl::StrCat(absl::StrJoin(impl->targets, "+"), "/", id);
}

// Drainers for the outboxes whose receiver runs in another process.
absl::Status StartDelivery(Impl* impl) {
  if (!impl->store || (impl->Hosts("audit") && !impl->inbox_outbox)) return absl::OkStatus();
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string source, OutboxSource(impl));
  common::OutboxDrainerOptions options;
  options.max_age = absl::Seconds(impl->config.outbox_max_age_seconds);
  if (!impl->Hosts("audit")) {
    impl->drainers.push_back(std::make_unique<common::OutboxDrainer>(
        impl->store.get(), common::kAuditOutboxColumnFamily, &impl->audit_outbox->sequence(),
        common::DeliverToAudit(impl->PeerFor("audit"), source), &impl->clock, options));
  }
  if (impl->inbox_outbox) {
    impl->drainers.push_back(std::make_unique<common::OutboxDrainer>(
        impl->store.get(), common::kInboxOutboxColumnFamily, &impl->inbox_outbox->sequence(),
        common::DeliverToInbox(impl->PeerFor("inbox"), source), &impl->clock, options));
  }
  return absl::OkStatus();
}

absl::Status WireDirectory(Impl* impl) {
  if (!impl->Hosts("directory")) {
    if (impl->peers.count("directory") == 0) return absl::OkStatus();  // not needed
    impl->remote_directory =
        std::make_unique<common::RemoteAgencyLookup>(impl->PeerFor("directory"), &impl->clock);
    impl->agencies = impl->remote_directory.get();
    return absl::OkStatus();
  }
  const ServerConfig& config = impl->config;
  BUDSTIKKE_ASSIGN_OR_RETURN(
      impl->directory, directory::Directory::Create(impl->store.get(), &impl->clock,
                                                    impl->audit_sink, config.operator_agency));
  impl->agencies = impl->directory.get();
  if (!config.seed_directory.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string seed,
                               common::ReadFile("seed directory", config.seed_directory));
    BUDSTIKKE_ASSIGN_OR_RETURN(int added, impl->directory->LoadSeedIfEmpty(seed));
    if (added > 0) spdlog::info("seeded directory with {} agencies", added);
  }
  impl->services.push_back(
      std::make_unique<directory::DirectoryServiceImpl>(impl->directory.get(), impl->auth.get()));
  if (impl->Split()) {
    impl->services.push_back(
        std::make_unique<common::DirectoryLookupService>(impl->directory.get(), impl->auth.get()));
  }
  return absl::OkStatus();
}

// The inbox here, or an outbox that delivers to the inbox service.
absl::Status WireInbox(Impl* impl) {
  if (impl->Hosts("inbox")) {
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->inbox, inbox::Inbox::Create(impl->store.get(), &impl->clock));
    impl->inbox->StartRetentionJob(absl::Minutes(10));
    impl->inbox_writer = impl->inbox.get();
    impl->services.push_back(
        std::make_unique<inbox::InboxServiceImpl>(impl->inbox.get(), impl->auth.get()));
    if (impl->Split()) {
      impl->services.push_back(std::make_unique<inbox::InboxIngestService>(
          impl->inbox.get(), impl->ledger.get(), impl->auth.get()));
    }
    return absl::OkStatus();
  }
  if (impl->Hosts("consultation") || impl->Hosts("consent") || impl->Hosts("referral")) {
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->inbox_outbox,
                               common::OutboxInboxWriter::Create(impl->store.get()));
    impl->inbox_writer = impl->inbox_outbox.get();
  }
  return absl::OkStatus();
}

absl::Status WireConsultation(Impl* impl, const policy::PolicyRules& rules) {
  if (!impl->Hosts("consultation")) return absl::OkStatus();
  const ServerConfig& config = impl->config;
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->envelope, storage::Envelope::Create(impl->keyring.get()));
  pii::ScannerConfig scanner_config;
  scanner_config.allow_synthetic = !config.refuse_synthetic_ids;
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->scanner, pii::Scanner::Create(scanner_config));
  consultation::Consultations::Deps deps;
  deps.store = impl->store.get();
  deps.keyring = impl->keyring.get();
  deps.envelope = impl->envelope.get();
  deps.audit = impl->audit_sink;
  deps.directory = impl->agencies;
  deps.inbox = impl->inbox_writer;
  deps.scanner = impl->scanner.get();
  deps.clock = &impl->clock;
  consultation::Consultations::Options options;
  options.recipient_types = rules.consultation_recipients;
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->consultations,
                             consultation::Consultations::Create(deps, options));
  impl->consultations->StartRetentionJob(absl::Minutes(10));
  impl->services.push_back(std::make_unique<consultation::ConsultationServiceImpl>(
      impl->consultations.get(), impl->auth.get(), impl->executor.get()));
  return absl::OkStatus();
}

// Consent and referral call each other: in-process when both are here
// (ConsentRegistry is the ConsentChecker, ReferralDesk the ConsentObserver),
// otherwise through ConsentLookup and ConsentHooks.
absl::Status WireConsentAndReferral(Impl* impl, const policy::PolicyRules& rules) {
  const bool consent_here = impl->Hosts("consent");
  const bool referral_here = impl->Hosts("referral");
  if (consent_here) {
    consent::ConsentOptions options;
    options.rules = rules;
    BUDSTIKKE_ASSIGN_OR_RETURN(
        impl->consents, consent::ConsentRegistry::Create(impl->store.get(), impl->keyring.get(),
                                                         impl->audit_sink, impl->inbox_writer,
                                                         impl->agencies, &impl->clock, options));
    impl->services.push_back(
        std::make_unique<consent::ConsentServiceImpl>(impl->consents.get(), impl->auth.get()));
  }
  if (referral_here) {
    const common::ConsentChecker* checker = impl->consents.get();
    if (!consent_here) {
      impl->remote_consents =
          std::make_unique<common::RemoteConsentChecker>(impl->PeerFor("consent"), &impl->clock);
      checker = impl->remote_consents.get();
    }
    referral::ReferralOptions options;
    options.rules = rules;
    options.urgent_ack = absl::Seconds(impl->config.urgent_ack_minutes * 60);
    options.unsent_attachment_max_age = absl::Seconds(impl->config.attachment_max_age_hours * 3600);
    options.on_escalation = [impl] {
      if (impl->metrics) impl->metrics->CountEscalation();
    };
    BUDSTIKKE_ASSIGN_OR_RETURN(
        impl->referrals, referral::ReferralDesk::Create(
                             impl->store.get(), impl->keyring.get(), impl->audit_sink,
                             impl->inbox_writer, impl->agencies, checker, &impl->clock, options));
    impl->referrals->StartEscalationJob(absl::Seconds(1));
    impl->services.push_back(std::make_unique<referral::ReferralServiceImpl>(
        impl->referrals.get(), impl->auth.get(), impl->executor.get()));
    if (!consent_here) {
      impl->services.push_back(std::make_unique<common::ConsentHooksService>(
          impl->referrals.get(), impl->auth.get(), impl->remote_consents.get()));
    }
  }
  if (consent_here && referral_here) impl->consents->SetObserver(impl->referrals.get());
  if (consent_here && !referral_here) {
    impl->remote_referrals =
        std::make_unique<common::RemoteConsentObserver>(impl->PeerFor("referral"));
    impl->consents->SetObserver(impl->remote_referrals.get());
    impl->services.push_back(
        std::make_unique<common::ConsentLookupService>(impl->consents.get(), impl->auth.get()));
  }
  return absl::OkStatus();
}

// --accept-audit-rollback on a log smaller than its anchor: the break is
// the first thing the log appends and signs, so verifiers see it.
absl::Status RecordAcceptedRollback(Impl* impl) {
  const auto rollback = impl->audit_log->accepted_rollback();
  if (!rollback) return absl::OkStatus();
  spdlog::warn("audit log rolled back from {} to {} events; recording the break", rollback->first,
               rollback->second);
  common::Caller server;
  server.identity.service = "audit";
  server.via_service = "audit";
  v1::AuditEvent event = common::AllowedEvent(
      audit::kActionRollbackAccepted, v1::RESOURCE_KIND_AUDIT_LOG,
      absl::StrCat("published=", rollback->first, ",restored=", rollback->second));
  return impl->audit_outbox->Record(server, std::move(event));
}

absl::Status WireAudit(Impl* impl) {
  if (!impl->Hosts("audit")) return absl::OkStatus();
  const ServerConfig& config = impl->config;
  // The file's mode was checked by Validate (common::CheckPrivateFile, the one
  // key-file rule, which accepts a Kubernetes fsGroup Secret); tlog's own
  // FromPemFile is stricter, so read it here and hand over the PEM.
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string pem, common::ReadFile("audit signing key file", config.audit_signing_key_file));
  auto signer = tlog::Signer::FromPem(config.trust_domain + "/audit", pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!signer.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(signer.error().code), signer.error().message);
  }
  impl->audit_signer = std::move(signer).value();
  audit::AuditLogOptions log_options;
  log_options.anchor_file = config.audit_anchor_file;
  log_options.accept_rollback = config.accept_audit_rollback;
  if (log_options.anchor_file.empty()) {
    spdlog::warn("no --audit-anchor-file: a restored or rolled-back audit log is not detected");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->audit_log,
                             audit::AuditLog::Create(impl->store.get(), impl->audit_signer.get(),
                                                     &impl->clock, std::move(log_options)));
  BUDSTIKKE_RETURN_IF_ERROR(RecordAcceptedRollback(impl));
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->audit_pseudonymizer,
                             storage::Pseudonymizer::Create(*impl->keyring));
  common::NationalIdOptions id_options;
  id_options.allow_synthetic = !config.refuse_synthetic_ids;
  BUDSTIKKE_ASSIGN_OR_RETURN(
      impl->audit,
      audit::Audit::Create(impl->audit_log.get(), impl->audit_outbox.get(),
                           impl->audit_pseudonymizer.get(), impl->agencies, id_options));
  impl->services.push_back(
      std::make_unique<audit::AuditServiceImpl>(impl->audit.get(), impl->auth.get()));
  if (impl->Split()) {
    impl->services.push_back(std::make_unique<audit::AuditIngestService>(
        impl->store.get(), impl->audit_outbox.get(), impl->ledger.get(), impl->auth.get()));
  }
  return absl::OkStatus();
}

// Every process with data: its keys and backups, served to the admin
// service's fan-out when that runs elsewhere.
void WireKeyTarget(Impl* impl) {
  if (!impl->store) return;
  std::vector<std::string> data_targets;
  for (const std::string& t : impl->targets) {
    if (KeepsData({t})) data_targets.push_back(t);
  }
  impl->key_target = std::make_unique<admin::LocalKeyTarget>(
      absl::StrJoin(data_targets, "+"), impl->store.get(), impl->keyring.get(), &impl->clock);
  if (impl->Split()) {
    impl->services.push_back(
        std::make_unique<admin::KeyAdminService>(impl->key_target.get(), impl->auth.get()));
  }
}

// Admin acts on this process's keys (if it has data) and on those of every
// service with data it reaches through --peers (the fan-out).
absl::Status WireAdmin(Impl* impl) {
  if (!impl->Hosts("admin")) return absl::OkStatus();
  const ServerConfig& config = impl->config;
  admin::AdminDeps deps;
  if (impl->key_target) deps.key_targets.push_back(impl->key_target.get());
  for (const std::string& service : NeedsOf("admin")) {
    if (impl->Hosts(service.c_str())) continue;
    impl->remote_key_targets.push_back(
        std::make_unique<admin::RemoteKeyTarget>(impl->PeerFor(service)));
    deps.key_targets.push_back(impl->remote_key_targets.back().get());
  }
  deps.agencies = impl->agencies;
  deps.audit = impl->audit_sink;
  deps.clock = &impl->clock;
  deps.operator_agency = config.operator_agency;
  deps.trust_domain = config.trust_domain;
  deps.targets = impl->targets;
  deps.version = BUDSTIKKE_VERSION;
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->admin, admin::Admin::Create(std::move(deps)));
  impl->services.push_back(
      std::make_unique<admin::AdminServiceImpl>(impl->admin.get(), impl->auth.get()));
  return absl::OkStatus();
}

// The public services by target, for the gateway's routes.
constexpr std::pair<const char*, const char*> kPublicServices[] = {
    {"directory", "budstikke.v1.DirectoryService"},
    {"consultation", "budstikke.v1.ConsultationService"},
    {"consent", "budstikke.v1.ConsentService"},
    {"referral", "budstikke.v1.ReferralService"},
    {"inbox", "budstikke.v1.InboxService"},
    {"audit", "budstikke.v1.AuditService"},
    {"admin", "budstikke.v1.AdminService"},
};

absl::Status WireGateway(Impl* impl) {
  if (!impl->Hosts(kGatewayTarget)) return absl::OkStatus();
  gateway::GatewayOptions options;
  options.auth = impl->auth.get();
  for (const auto& [target, service] : kPublicServices) {
    auto it = impl->peers.find(target);
    if (it != impl->peers.end()) options.routes[service] = it->second.channel;
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(impl->gateway, gateway::Gateway::Create(std::move(options)));
  return absl::OkStatus();
}

}  // namespace

BudstikkeServer::BudstikkeServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BudstikkeServer::~BudstikkeServer() = default;

absl::StatusOr<std::unique_ptr<BudstikkeServer>> BudstikkeServer::Create(
    const ServerConfig& flags) {
  auto impl = std::make_unique<Impl>();
  impl->config = flags;
  BUDSTIKKE_RETURN_IF_ERROR(Validate(&impl->config));
  impl->targets = impl->config.Targets();
  BUDSTIKKE_RETURN_IF_ERROR(ConnectPeers(impl.get()));
  if (KeepsData(impl->targets)) {
    BUDSTIKKE_RETURN_IF_ERROR(OpenData(impl.get()));
  } else {
    impl->remote_audit = std::make_unique<common::RemoteAuditOutbox>(
        impl->PeerFor("audit"), absl::StrJoin(impl->targets, "+"), &impl->clock);
    impl->audit_sink = impl->remote_audit.get();
  }
  impl->refusal_aggregator = std::make_unique<common::RefusalAggregator>(&impl->clock);
  impl->audit_sink->AggregateRefusals(impl->refusal_aggregator.get());
  impl->refusal_flush.Start(absl::Seconds(1), [sink = impl->audit_sink] {
    (void)sink->FlushRefusals(/*all=*/false);  // lost counts: their first refusal is logged
  });
  LimitThreadCaches(kThreadCacheBytes);
  impl->heap_release.Start(kHeapReleaseInterval, ReleaseFreeHeap);
  impl->auth = std::make_unique<common::Authenticator>(impl->config.trust_domain);
  // Refusals by the authorization table are audited (DENIED, authz.role).
  impl->auth->SetAuditOutbox(impl->audit_sink);
  if (impl->config.rate_limit > 0) {
    impl->rate_limiter =
        std::make_unique<common::RateLimiter>(impl->config.rate_limit, &impl->clock);
    impl->auth->SetRateLimiter(impl->rate_limiter.get());
  }
  // The consultation and referral services run their unary domain calls on
  // dedicated threads (services/common/domain_executor.h).
  if (impl->Hosts("consultation") || impl->Hosts("referral")) {
    impl->executor = std::make_unique<common::DomainExecutor>(
        common::DomainExecutor::DefaultThreads(impl->config.sync_writes));
  }
  // One rule set for every service: the policy module owns the rules.
  policy::PolicyRules rules;
  rules.refuse_synthetic_ids = impl->config.refuse_synthetic_ids;
  BUDSTIKKE_ASSIGN_OR_RETURN(
      rules.consultation_recipients,
      policy::ParseAgencyTypeNames(impl->config.consultation_recipient_types));
  BUDSTIKKE_RETURN_IF_ERROR(WireDirectory(impl.get()));
  BUDSTIKKE_RETURN_IF_ERROR(WireInbox(impl.get()));
  BUDSTIKKE_RETURN_IF_ERROR(WireConsultation(impl.get(), rules));
  BUDSTIKKE_RETURN_IF_ERROR(WireConsentAndReferral(impl.get(), rules));
  BUDSTIKKE_RETURN_IF_ERROR(WireAudit(impl.get()));
  WireKeyTarget(impl.get());
  BUDSTIKKE_RETURN_IF_ERROR(WireAdmin(impl.get()));
  BUDSTIKKE_RETURN_IF_ERROR(WireGateway(impl.get()));
  BUDSTIKKE_RETURN_IF_ERROR(StartDelivery(impl.get()));
  if (!impl->config.metrics_listen.empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(impl->metrics, Metrics::Create(impl->config.metrics_listen));
    impl->metrics->SetStore(impl->store.get());
    for (const auto& drainer : impl->drainers) {
      common::OutboxDrainer* d = drainer.get();
      impl->metrics->AddOutbox(
          d->column_family(), [d] { return static_cast<double>(d->backlog()); },
          [d] { return absl::ToDoubleSeconds(d->oldest_age()); });
    }
    if (impl->key_target) {
      admin::Rewrapper* r = &impl->key_target->rewrapper();
      impl->metrics->SetRewrap([r] { return static_cast<double>(r->records_rewrapped()); },
                               [r] { return static_cast<double>(r->records_remaining()); });
    }
  }
  return std::unique_ptr<BudstikkeServer>(new BudstikkeServer(std::move(impl)));
}

namespace {

// --health-listen: gRPC health in plaintext for Kubernetes probes (no
// reflection: only the main server adds it).
absl::StatusOr<std::unique_ptr<grpc::Server>> StartHealthServer(const std::string& listen,
                                                                grpc::Service* health) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(health);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on --health-listen ", listen));
  }
  return server;
}

}  // namespace

absl::StatusOr<int> BudstikkeServer::Start() {
  const ServerConfig& c = impl_->config;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // Reflection for authenticated callers only; health stays open to any
  // certificate of the CA (and plaintext on --health-listen).
  builder.SetOption(AuthenticatedReflection(impl_->auth.get()));
  common::ApplyServerThreadOptions(builder);
  common::SetStreamStepLimit(absl::Seconds(c.stream_idle_seconds));
  int port = 0;
  builder.AddListeningPort(
      c.listen,
      common::MakeServerCredentials({c.tls_cert, c.tls_key, c.tls_ca}, c.tls_refresh_seconds),
      &port);
  builder.SetMaxReceiveMessageSize(c.max_message_bytes);
  builder.SetMaxSendMessageSize(c.max_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, c.max_concurrent_streams);
  // The gateway's connection to a service carries every client's calls, and
  // a header block the service refused for size would unsettle it (gRPC
  // 1.51's HPACK tables, CVE-2023-32731): the gateway takes half of what a
  // service takes, so a forwarded call with its on-behalf-of header fits.
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE,
                             impl_->gateway ? kGatewayMaxMetadataBytes : kMaxMetadataBytes);
  // Keepalive: ping idle connections every 60 s; allow client pings every 10 s.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 60000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  for (auto& service : impl_->services) builder.RegisterService(service.get());
  if (impl_->gateway) builder.RegisterCallbackGenericService(impl_->gateway->service());
  if (impl_->metrics) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> f;
    f.push_back(impl_->metrics->InterceptorFactory());
    builder.experimental().SetInterceptorCreators(std::move(f));
  }
  // No audit, no access: a failing audit write or an outbox that cannot
  // deliver turns readiness NOT_SERVING until every source works again.
  if (impl_->audit_outbox) {
    impl_->audit_outbox->SetHealthObserver(impl_->health.ObserverFor("audit outbox"));
  }
  if (impl_->audit_log) {
    impl_->audit_log->SetHealthObserver(impl_->health.ObserverFor("audit log"));
  }
  for (auto& drainer : impl_->drainers) {
    drainer->SetHealthObserver(impl_->health.ObserverFor(drainer->column_family()));
  }
  if (!c.health_listen.empty()) {
    impl_->probe_health = std::make_unique<ProbeHealthService>(&impl_->health);
    BUDSTIKKE_ASSIGN_OR_RETURN(impl_->health_server,
                               StartHealthServer(c.health_listen, impl_->probe_health.get()));
  }
  impl_->server = builder.BuildAndStart();
  if (impl_->server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", c.listen, " (address in use or not local?)"));
  }
  impl_->health.Attach(impl_->server.get());
  if (impl_->audit_log) impl_->audit_log->Start();
  for (auto& drainer : impl_->drainers) drainer->Start();
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
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(grace_seconds);
  impl_->server->Shutdown(deadline);
  if (impl_->health_server) impl_->health_server->Shutdown(deadline);
  impl_->refusal_flush.Stop();
  (void)impl_->audit_sink->FlushRefusals(/*all=*/true);  // the drainers deliver them
  for (auto& drainer : impl_->drainers) drainer->Stop();
}

}  // namespace budstikke::server
