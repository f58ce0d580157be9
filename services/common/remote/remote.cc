#include "services/common/remote/remote.h"

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/audit_event.h"
#include "services/common/grpc_adapter.h"

namespace budstikke::common {
std::unique_ptr<grpc::ClientContext> PeerContext(const Peer& peer) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + peer.timeout));
  return ctx;
}

absl::Status PeerError(const std::string& peer, const grpc::Status& status) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kDeadlineExceeded ||
      code == absl::StatusCode::kCancelled) {
    return absl::UnavailableError(
        absl::StrCat(peer, " service unavailable: ", status.error_message()));
  }
  return absl::Status(code, status.error_message());
}

internal::v1::ConsentFacts ToProto(const ConsentFacts& facts) {
  internal::v1::ConsentFacts p;
  p.set_id(facts.id);
  p.set_recording_agency(facts.recording_agency);
  p.set_subject_pseudonym(facts.subject_pseudonym);
  p.set_giver(facts.giver);
  if (facts.recipients.empty()) {
    *p.add_recipients() = facts.recipient;
  } else {
    for (const v1::ConsentRecipient& r : facts.recipients) *p.add_recipients() = r;
  }
  p.set_purpose(facts.purpose);
  *p.mutable_valid_until() = facts.valid_until;
  p.set_revoked(facts.revoked);
  return p;
}

ConsentFacts FromProto(const internal::v1::ConsentFacts& p) {
  ConsentFacts facts;
  facts.id = p.id();
  facts.recording_agency = p.recording_agency();
  facts.subject_pseudonym = p.subject_pseudonym();
  facts.giver = p.giver();
  if (p.recipients_size() > 0) facts.recipient = p.recipients(0);
  facts.recipients.assign(p.recipients().begin(), p.recipients().end());
  facts.purpose = p.purpose();
  facts.valid_until = p.valid_until();
  facts.revoked = p.revoked();
  return facts;
}

// --- RemoteAgencyLookup ---

RemoteAgencyLookup::RemoteAgencyLookup(Peer peer, const Clock* clock, absl::Duration max_staleness)
    : peer_(std::move(peer)),
      stub_(internal::v1::DirectoryLookup::NewStub(peer_.channel)),
      clock_(clock),
      max_staleness_(max_staleness) {}

absl::StatusOr<v1::Agency> RemoteAgencyLookup::GetAgency(absl::string_view id) const {
  const absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = agencies_.find(id);
    if (it != agencies_.end() && now - it->second.at <= max_staleness_) return it->second.value;
  }
  internal::v1::GetAgencyRequest req;
  req.set_id(std::string(id));
  v1::Agency agency;
  grpc::Status status = stub_->GetAgency(PeerContext(peer_).get(), req, &agency);
  if (!status.ok()) return PeerError(peer_.name, status);
  absl::MutexLock lock(&mu_);
  if (agencies_.size() > 10000) agencies_.clear();
  agencies_[id] = {agency, now};
  return agency;
}

absl::StatusOr<std::vector<v1::Agency>> RemoteAgencyLookup::FindAgencies(
    v1::AgencyType type, absl::string_view municipality) const {
  const std::string key = absl::StrCat(static_cast<int>(type), "/", municipality);
  const absl::Time now = clock_->Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = found_.find(key);
    if (it != found_.end() && now - it->second.at <= max_staleness_) return it->second.value;
  }
  internal::v1::FindAgenciesRequest req;
  req.set_type(type);
  req.set_municipality(std::string(municipality));
  internal::v1::FindAgenciesResponse resp;
  grpc::Status status = stub_->FindAgencies(PeerContext(peer_).get(), req, &resp);
  if (!status.ok()) return PeerError(peer_.name, status);
  std::vector<v1::Agency> agencies(resp.agencies().begin(), resp.agencies().end());
  absl::MutexLock lock(&mu_);
  if (found_.size() > 10000) found_.clear();
  found_[key] = {agencies, now};
  return agencies;
}

// --- Consent ---

RemoteConsentChecker::RemoteConsentChecker(Peer peer, const Clock* clock,
                                           absl::Duration max_staleness)
    : peer_(std::move(peer)),
      stub_(internal::v1::ConsentLookup::NewStub(peer_.channel)),
      clock_(clock),
      max_staleness_(max_staleness) {}

std::optional<ConsentFacts> RemoteConsentChecker::FreshLocked(absl::string_view consent_id,
                                                              absl::Time now) const {
  auto it = consents_.find(consent_id);
  if (it == consents_.end() || now - it->second.at > max_staleness_) return std::nullopt;
  return it->second.facts;
}

absl::StatusOr<ConsentFacts> RemoteConsentChecker::GetConsentFacts(
    absl::string_view consent_id) const {
  const absl::Time now = clock_->Now();
  const bool connected = peer_.channel->GetState(false) == GRPC_CHANNEL_READY;
  uint64_t revocations = 0;
  {
    absl::MutexLock lock(&mu_);
    if (connected) {
      if (std::optional<ConsentFacts> fresh = FreshLocked(consent_id, now)) return *fresh;
    }
    revocations = revocations_;
  }
  internal::v1::GetConsentFactsRequest req;
  req.set_consent_id(std::string(consent_id));
  internal::v1::ConsentFacts resp;
  grpc::Status status = stub_->GetConsentFacts(PeerContext(peer_).get(), req, &resp);
  if (!status.ok()) return PeerError(peer_.name, status);
  ConsentFacts facts = FromProto(resp);
  absl::MutexLock lock(&mu_);
  if (max_staleness_ > absl::ZeroDuration() && revocations == revocations_) {
    if (consents_.size() > 10000) consents_.clear();
    consents_[consent_id] = {facts, now};
  }
  return facts;
}

void RemoteConsentChecker::Revoked(absl::string_view consent_id) {
  absl::MutexLock lock(&mu_);
  ++revocations_;
  consents_.erase(consent_id);
}

RemoteConsentObserver::RemoteConsentObserver(Peer peer)
    : peer_(std::move(peer)), stub_(internal::v1::ConsentHooks::NewStub(peer_.channel)) {}

absl::StatusOr<bool> RemoteConsentObserver::ReceivedUnderConsent(absl::string_view consent_id,
                                                                 absl::string_view agency) const {
  internal::v1::ReceivedUnderConsentRequest req;
  req.set_consent_id(std::string(consent_id));
  req.set_agency(std::string(agency));
  internal::v1::ReceivedUnderConsentResponse resp;
  grpc::Status status = stub_->ReceivedUnderConsent(PeerContext(peer_).get(), req, &resp);
  return PeerAnswer(peer_, status, resp.received());
}

absl::Status RemoteConsentObserver::OnConsentRevoked(const Caller& caller,
                                                     const ConsentFacts& consent) {
  internal::v1::ConsentRevokedRequest req;
  *req.mutable_consent() = ToProto(consent);
  internal::v1::ConsentRevokedResponse resp;
  auto ctx = PeerContext(peer_);
  ctx->AddMetadata(kOnBehalfOfMetadata, caller.identity.spiffe_id);
  grpc::Status status = stub_->ConsentRevoked(ctx.get(), req, &resp);
  return status.ok() ? absl::OkStatus() : PeerError(peer_.name, status);
}

// --- Audit and inbox delivery ---

RemoteAuditOutbox::RemoteAuditOutbox(Peer peer, std::string source, const Clock* clock)
    : peer_(std::move(peer)),
      stub_(internal::v1::AuditIngest::NewStub(peer_.channel)),
      clock_(clock) {
  absl::BitGen gen;
  source_ = absl::StrCat(source, "/", absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen)));
}

absl::Status RemoteAuditOutbox::Add(storage::WriteBatch*, const Caller&, v1::AuditEvent) {
  return absl::FailedPreconditionError("this process keeps no data: record audit events directly");
}

absl::Status RemoteAuditOutbox::RecordEvent(const Caller& caller, v1::AuditEvent event) {
  StampRecorded(caller, clock_->Now(), &event);
  absl::MutexLock lock(&mu_);
  internal::v1::AppendRequest req;
  req.set_source(source_);
  internal::v1::AuditEntry* entry = req.add_entries();
  entry->set_sequence(next_);
  *entry->mutable_event() = std::move(event);
  internal::v1::AppendResponse resp;
  grpc::Status status = stub_->Append(PeerContext(peer_).get(), req, &resp);
  // A failed call keeps the number: a retry of a call that did arrive is
  // then not appended twice.
  if (!status.ok()) return PeerError(peer_.name, status);
  ++next_;
  return absl::OkStatus();
}

OutboxDrainer::Deliver DeliverToAudit(Peer peer, std::string source) {
  auto stub = std::shared_ptr<internal::v1::AuditIngest::Stub>(
      internal::v1::AuditIngest::NewStub(peer.channel));
  return [peer, stub, source](const std::vector<OutboxEntry>& entries) -> absl::Status {
    internal::v1::AppendRequest req;
    req.set_source(source);
    for (const OutboxEntry& e : entries) {
      internal::v1::AuditEntry* entry = req.add_entries();
      entry->set_sequence(e.sequence);
      if (!entry->mutable_event()->ParseFromString(e.value)) {
        return absl::DataLossError(absl::StrCat("audit outbox entry ", e.sequence, " unreadable"));
      }
    }
    internal::v1::AppendResponse resp;
    grpc::Status status = stub->Append(PeerContext(peer).get(), req, &resp);
    return status.ok() ? absl::OkStatus() : PeerError(peer.name, status);
  };
}

OutboxDrainer::Deliver DeliverToInbox(Peer peer, std::string source) {
  auto stub = std::shared_ptr<internal::v1::InboxIngest::Stub>(
      internal::v1::InboxIngest::NewStub(peer.channel));
  return [peer, stub, source](const std::vector<OutboxEntry>& entries) -> absl::Status {
    internal::v1::DeliverRequest req;
    req.set_source(source);
    for (const OutboxEntry& e : entries) {
      internal::v1::InboxEntry* entry = req.add_entries();
      if (!entry->ParseFromString(e.value)) {
        return absl::DataLossError(absl::StrCat("inbox outbox entry ", e.sequence, " unreadable"));
      }
      entry->set_sequence(e.sequence);
    }
    internal::v1::DeliverResponse resp;
    grpc::Status status = stub->Deliver(PeerContext(peer).get(), req, &resp);
    return status.ok() ? absl::OkStatus() : PeerError(peer.name, status);
  };
}

// --- Server-side adapters ---

namespace {
constexpr char kGetAgency[] = "budstikke.internal.v1.DirectoryLookup/GetAgency";
constexpr char kFindAgencies[] = "budstikke.internal.v1.DirectoryLookup/FindAgencies";
constexpr char kGetConsentFacts[] = "budstikke.internal.v1.ConsentLookup/GetConsentFacts";
constexpr char kReceivedUnderConsent[] = "budstikke.internal.v1.ConsentHooks/ReceivedUnderConsent";
constexpr char kConsentRevoked[] = "budstikke.internal.v1.ConsentHooks/ConsentRevoked";
}  // namespace

grpc::Status DirectoryLookupService::GetAgency(grpc::ServerContext* ctx,
                                               const internal::v1::GetAgencyRequest* req,
                                               v1::Agency* resp) {
  return Unary(ctx, *auth_, kGetAgency, resp, kInline,
               [&](const Caller&) { return agencies_->GetAgency(req->id()); });
}

grpc::Status DirectoryLookupService::FindAgencies(grpc::ServerContext* ctx,
                                                  const internal::v1::FindAgenciesRequest* req,
                                                  internal::v1::FindAgenciesResponse* resp) {
  return Unary(ctx, *auth_, kFindAgencies, resp, kInline,
               [&](const Caller&) -> absl::StatusOr<internal::v1::FindAgenciesResponse> {
                 absl::StatusOr<std::vector<v1::Agency>> found =
                     agencies_->FindAgencies(req->type(), req->municipality());
                 if (!found.ok()) return found.status();
                 internal::v1::FindAgenciesResponse out;
                 for (v1::Agency& a : *found) *out.add_agencies() = std::move(a);
                 return out;
               });
}

grpc::Status ConsentLookupService::GetConsentFacts(grpc::ServerContext* ctx,
                                                   const internal::v1::GetConsentFactsRequest* req,
                                                   internal::v1::ConsentFacts* resp) {
  return Unary(ctx, *auth_, kGetConsentFacts, resp, kInline,
               [&](const Caller&) -> absl::StatusOr<internal::v1::ConsentFacts> {
                 absl::StatusOr<ConsentFacts> facts = consents_->GetConsentFacts(req->consent_id());
                 if (!facts.ok()) return facts.status();
                 return ToProto(*facts);
               });
}

grpc::Status ConsentHooksService::ReceivedUnderConsent(
    grpc::ServerContext* ctx, const internal::v1::ReceivedUnderConsentRequest* req,
    internal::v1::ReceivedUnderConsentResponse* resp) {
  return Unary(ctx, *auth_, kReceivedUnderConsent, resp, kInline,
               [&](const Caller&) -> absl::StatusOr<internal::v1::ReceivedUnderConsentResponse> {
                 absl::StatusOr<bool> received =
                     observer_->ReceivedUnderConsent(req->consent_id(), req->agency());
                 if (!received.ok()) return received.status();
                 internal::v1::ReceivedUnderConsentResponse out;
                 out.set_received(*received);
                 return out;
               });
}

grpc::Status ConsentHooksService::ConsentRevoked(grpc::ServerContext* ctx,
                                                 const internal::v1::ConsentRevokedRequest* req,
                                                 internal::v1::ConsentRevokedResponse* resp) {
  return Unary(ctx, *auth_, kConsentRevoked, resp, kInline,
               [&](const Caller& caller) -> absl::StatusOr<internal::v1::ConsentRevokedResponse> {
                 if (consents_ != nullptr) consents_->Revoked(req->consent().id());
                 absl::Status s = observer_->OnConsentRevoked(caller, FromProto(req->consent()));
                 if (!s.ok()) return s;
                 return internal::v1::ConsentRevokedResponse();
               });
}

}  // namespace budstikke::common
