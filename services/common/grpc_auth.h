// Authenticator: the shared first step of every adapter method. It derives the
// caller from the mTLS peer certificate (identity.h), resolves an on-behalf-of
// caller asserted by a Budstikke service, and checks the authorization table.
//
//   absl::StatusOr<Caller> caller =
//       auth_.Authenticate(ctx, "budstikke.v1.DirectoryService/WhoAmI");
//
// Unary adapter methods call it through common::Unary (grpc_adapter.h).
//
// Only a service identity may send the `budstikke-on-behalf-of` metadata (the
// original caller's SPIFFE ID); from anyone else it is PERMISSION_DENIED. A
// service identity without it is PERMISSION_DENIED too: services act only for
// a person.
//
// With an audit outbox set, a refusal by the authorization table of a method
// that has an audit action (AuditActionFor) is recorded first as a DENIED
// event of that action with rule "authz.role"; if that cannot be recorded
// the call is UNAVAILABLE. Thread-safe (set the outbox before serving).
#ifndef BUDSTIKKE_SERVICES_COMMON_GRPC_AUTH_H_
#define BUDSTIKKE_SERVICES_COMMON_GRPC_AUTH_H_

#include <grpcpp/server_context.h>

#include <string>
#include "absl/strings/string_view.h"

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/common/audit_outbox.h"
#include "services/common/identity.h"

namespace budstikke::common {

inline constexpr char kOnBehalfOfMetadata[] = "budstikke-on-behalf-of";

class Authenticator {
 public:
  explicit Authenticator(std::string trust_domain) : trust_domain_(std::move(trust_domain)) {}

  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase* context,
                                      absl::string_view method) const;
  // Only the certificate part (no authorization), for e.g. WhoAmI tests and
  // the gateway. Both take a sync or a callback server's context.
  absl::StatusOr<Caller> Identify(const grpc::ServerContextBase* context) const;

  const std::string& trust_domain() const { return trust_domain_; }
  // Not owned; must outlive the Authenticator.
  void SetAuditOutbox(AuditOutbox* outbox) { outbox_ = outbox; }

 private:
  // Parsing the peer certificate with OpenSSL costs tens of microseconds; the
  // identity of a given certificate never changes, so it is cached (bounded).
  absl::StatusOr<Identity> PeerIdentity(absl::string_view pem) const;

  static constexpr size_t kMaxCachedIdentities = 4096;
  std::string trust_domain_;
  AuditOutbox* outbox_ = nullptr;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, Identity> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_GRPC_AUTH_H_
