// Remote seams (microservices mode): gRPC implementations of the interfaces
// services use of each other, over budstikke.internal.v1, and the thin
// adapters that serve those RPCs from the in-process implementations.
//
//   interface (services/common)   client here              served by
//   AgencyLookup                  RemoteAgencyLookup       DirectoryLookupService
//   ConsentChecker                RemoteConsentChecker     ConsentLookupService
//   ConsentObserver               RemoteConsentObserver    ConsentHooksService
//   AuditOutbox (no local data)   RemoteAuditOutbox        audit/ingest_service.h
//   outbox delivery               DeliverToAudit,           audit/ingest_service.h,
//                                 DeliverToInbox           inbox/ingest_service.h
//
// Every call has a deadline (`timeout`, default 5 s). A peer that cannot be
// reached, or does not answer in time, is UNAVAILABLE "<peer> service
// unavailable: <why>": callers fail closed. Other errors keep their code and
// message (NOT_FOUND "consent 'x' not found" reads the same in both modes).
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_REMOTE_REMOTE_H_
#define BUDSTIKKE_SERVICES_COMMON_REMOTE_REMOTE_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "budstikke/internal/v1/internal.grpc.pb.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/consent_checker.h"
#include "services/common/grpc_auth.h"
#include "services/common/outbox/outbox_drainer.h"

namespace budstikke::common {

// One channel to a peer process, with its name for error messages.
struct Peer {
  std::string name;  // "consent"
  std::shared_ptr<grpc::Channel> channel;
  absl::Duration timeout = absl::Seconds(5);
};

// The error of a failed call to `peer`, as described above.
absl::Status PeerError(const std::string& peer, const grpc::Status& status);

// A client context for one call to `peer`, with its deadline (peer.timeout).
std::unique_ptr<grpc::ClientContext> PeerContext(const Peer& peer);

// `value` if the call to `peer` succeeded, else PeerError.
template <typename T>
absl::StatusOr<T> PeerAnswer(const Peer& peer, const grpc::Status& status, T value) {
  if (!status.ok()) return PeerError(peer.name, status);
  return value;
}

// ConsentFacts <-> wire.
internal::v1::ConsentFacts ToProto(const ConsentFacts& facts);
ConsentFacts FromProto(const internal::v1::ConsentFacts& proto);

// Directory lookups with a cache: an answer is reused for at most
// `max_staleness` (default 30 s), so a directory change reaches other
// services within that time; unknown agencies are not cached.
class RemoteAgencyLookup final : public AgencyLookup {
 public:
  RemoteAgencyLookup(Peer peer, const Clock* clock,
                     absl::Duration max_staleness = absl::Seconds(30));
  absl::StatusOr<v1::Agency> GetAgency(absl::string_view id) const override;
  absl::StatusOr<std::vector<v1::Agency>> FindAgencies(
      v1::AgencyType type, absl::string_view municipality) const override;

 private:
  template <typename T>
  struct Cached {
    T value;
    absl::Time at;
  };
  Peer peer_;
  std::unique_ptr<internal::v1::DirectoryLookup::Stub> stub_;
  const Clock* clock_;
  absl::Duration max_staleness_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Cached<v1::Agency>> agencies_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<std::string, Cached<std::vector<v1::Agency>>> found_
      ABSL_GUARDED_BY(mu_);
};

// Consent facts from the consent service, kept for at most `max_staleness`
// (default 2 s; zero: every read asks) and used only while the connection
// to the consent service is up, so a stopped consent service fails reads
// closed at once. Revocations do not wait for the staleness: the consent
// service's revocation notice (ConsentHooksService) calls Revoked() before the
// referrals are withdrawn, and a Revoke returns only after that, so a
// revocation that has returned is seen by the next read. A notice that fails
// fails the Revoke (the caller retries it); the cached answer then lives out
// its `max_staleness`. One referral process per deployment receives the
// notices (its store is its own), so every cache that holds a consent hears
// of its revocation.
class RemoteConsentChecker final : public ConsentChecker {
 public:
  RemoteConsentChecker(Peer peer, const Clock* clock,
                       absl::Duration max_staleness = absl::Seconds(2));
  absl::StatusOr<ConsentFacts> GetConsentFacts(absl::string_view consent_id) const override;
  // Forgets `consent_id`; a read already on its way does not cache its answer.
  void Revoked(absl::string_view consent_id);

 private:
  struct Cached {
    ConsentFacts facts;
    absl::Time at;
  };
  std::optional<ConsentFacts> FreshLocked(absl::string_view consent_id, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Peer peer_;
  std::unique_ptr<internal::v1::ConsentLookup::Stub> stub_;
  const Clock* clock_;
  absl::Duration max_staleness_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Cached> consents_ ABSL_GUARDED_BY(mu_);
  // Incremented by every Revoked(): an answer fetched across one is not kept.
  uint64_t revocations_ ABSL_GUARDED_BY(mu_) = 0;
};

// The consent service's view of the referral service. OnConsentRevoked
// returns only when the referral service has withdrawn the referrals, so a
// Revoke that returns has stopped every disclosure (docs/ARCHITECTURE.md).
class RemoteConsentObserver final : public ConsentObserver {
 public:
  explicit RemoteConsentObserver(Peer peer);
  absl::StatusOr<bool> ReceivedUnderConsent(absl::string_view consent_id,
                                            absl::string_view agency) const override;
  absl::Status OnConsentRevoked(const Caller& caller, const ConsentFacts& consent) override;

 private:
  Peer peer_;
  std::unique_ptr<internal::v1::ConsentHooks::Stub> stub_;
};

// The AuditOutbox of a process without data (gateway, admin): Record()
// appends the event at the audit service before returning, and fails closed.
// Add() (a local batch) is FAILED_PRECONDITION: such a process has no store.
// Events carry source "<source>/<instance>" with a per-process sequence, so
// a retried Append is not appended twice.
class RemoteAuditOutbox final : public AuditOutbox {
 public:
  RemoteAuditOutbox(Peer peer, std::string source, const Clock* clock);
  absl::Status Add(storage::WriteBatch* batch, const Caller& caller, v1::AuditEvent event) override;

 protected:
  absl::Status RecordEvent(const Caller& caller, v1::AuditEvent event) override;

 private:
  Peer peer_;
  std::unique_ptr<internal::v1::AuditIngest::Stub> stub_;
  std::string source_;
  const Clock* clock_;
  absl::Mutex mu_;  // one Append at a time keeps the source's order
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
};

// Delivery functions for OutboxDrainer: the audit outbox to AuditIngest, the
// inbox outbox to InboxIngest, as `source`.
OutboxDrainer::Deliver DeliverToAudit(Peer peer, std::string source);
OutboxDrainer::Deliver DeliverToInbox(Peer peer, std::string source);

// Serves DirectoryLookup from an AgencyLookup (the directory's own).
class DirectoryLookupService final : public internal::v1::DirectoryLookup::Service {
 public:
  DirectoryLookupService(const AgencyLookup* agencies, const Authenticator* auth)
      : agencies_(agencies), auth_(auth) {}
  grpc::Status GetAgency(grpc::ServerContext* ctx, const internal::v1::GetAgencyRequest* req,
                         v1::Agency* resp) override;
  grpc::Status FindAgencies(grpc::ServerContext* ctx, const internal::v1::FindAgenciesRequest* req,
                            internal::v1::FindAgenciesResponse* resp) override;

 private:
  const AgencyLookup* agencies_;
  const Authenticator* auth_;
};

// Serves ConsentLookup from the consent registry.
class ConsentLookupService final : public internal::v1::ConsentLookup::Service {
 public:
  ConsentLookupService(const ConsentChecker* consents, const Authenticator* auth)
      : consents_(consents), auth_(auth) {}
  grpc::Status GetConsentFacts(grpc::ServerContext* ctx,
                               const internal::v1::GetConsentFactsRequest* req,
                               internal::v1::ConsentFacts* resp) override;

 private:
  const ConsentChecker* consents_;
  const Authenticator* auth_;
};

// Serves ConsentHooks from the referral desk.
class ConsentHooksService final : public internal::v1::ConsentHooks::Service {
 public:
  // `consents`, if given, is told of each revocation before `observer`.
  ConsentHooksService(ConsentObserver* observer, const Authenticator* auth,
                      RemoteConsentChecker* consents = nullptr)
      : observer_(observer), auth_(auth), consents_(consents) {}
  grpc::Status ReceivedUnderConsent(grpc::ServerContext* ctx,
                                    const internal::v1::ReceivedUnderConsentRequest* req,
                                    internal::v1::ReceivedUnderConsentResponse* resp) override;
  grpc::Status ConsentRevoked(grpc::ServerContext* ctx,
                              const internal::v1::ConsentRevokedRequest* req,
                              internal::v1::ConsentRevokedResponse* resp) override;

 private:
  ConsentObserver* observer_;
  const Authenticator* auth_;
  RemoteConsentChecker* consents_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_REMOTE_REMOTE_H_
