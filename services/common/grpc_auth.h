// Authenticator: the shared first step of every adapter method. It derives the
// caller from the mTLS peer certificate (identity.h), resolves an on-behalf-of
// caller asserted by a Budstikke service, and checks the authorization table.
//
//   absl::StatusOr<Caller> caller =
//       auth_.Authenticate(ctx, "budstikke.v1.DirectoryService/WhoAmI");
//
// Unary adapter methods call it through common::Unary (grpc_adapter.h).
//
// Only a service identity that the allow-list lets act for people (the
// gateway and the console on the public API; service_allow_list.h) may send
// the `budstikke-on-behalf-of` metadata (the original caller's SPIFFE ID);
// from anyone else it is PERMISSION_DENIED (rule authz.on_behalf_of). A
// service identity without it is PERMISSION_DENIED too on the public API:
// services act only for a person. Internal methods (budstikke.internal.v1.*)
// are open only to the services the allow-list names for them (otherwise
// PERMISSION_DENIED, rule authz.service); the caller is then the service
// itself, or the person it asserts where the allow-list permits.
//
// With an audit outbox set, a refusal by the authorization table of a method
// that has an audit action (AuditActionFor) is recorded first as a DENIED
// event of that action with rule "authz.role", and every PERMISSION_DENIED
// refusal of an identity (on-behalf-of, allow-list) as a DENIED event of the
// method's action, or of "api.call" with the method as resource id; if that
// cannot be recorded the call is UNAVAILABLE. Thread-safe (set the outbox before serving).
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
#include "services/common/rate_limiter.h"

namespace budstikke::common {

inline constexpr char kOnBehalfOfMetadata[] = "budstikke-on-behalf-of";

class Authenticator {
 public:
  explicit Authenticator(std::string trust_domain) : trust_domain_(std::move(trust_domain)) {}

  absl::StatusOr<Caller> Authenticate(const grpc::ServerContextBase* context,
                                      absl::string_view method) const;
  // Only the certificate part (no authorization table), as for a public
  // method: WhoAmI, and the gateway before it forwards a call.
  absl::StatusOr<Caller> Identify(const grpc::ServerContextBase* context) const;

  // The caller of a call the gateway forwards to `method` (without the
  // authorization table, which the callee checks): Identify's rules, and a
  // PERMISSION_DENIED refusal is audited as Authenticate audits it.
  absl::StatusOr<Caller> IdentifyForForwarding(const grpc::ServerContextBase* context,
                                               absl::string_view method) const;

  // The identity the peer certificate names (a person or a service), with
  // Authenticate's UNAUTHENTICATED refusals; no on-behalf-of caller and no
  // authorization table: for what every authenticated caller may use (server
  // reflection).
  absl::StatusOr<Identity> Authenticated(const grpc::ServerContextBase* context) const {
    return Peer(context);
  }

  const std::string& trust_domain() const { return trust_domain_; }
  // Not owned; must outlive the Authenticator.
  void SetAuditOutbox(AuditOutbox* outbox) { outbox_ = outbox; }
  // Public methods then take one call of the caller's rate (the person's,
  // also when a service asserts them) and are RESOURCE_EXHAUSTED over it
  // (rate_limiter.h). Internal calls between services are not limited. Not
  // owned; must outlive the Authenticator.
  void SetRateLimiter(RateLimiter* limiter) { limiter_ = limiter; }

 private:
  // Parsing the peer certificate with OpenSSL costs tens of microseconds; the
  // identity of a given certificate never changes, so it is cached (bounded).
  absl::StatusOr<Identity> PeerIdentity(absl::string_view pem) const;
  // The identity of the peer certificate (UNAUTHENTICATED if none or bad).
  absl::StatusOr<Identity> Peer(const grpc::ServerContextBase* context) const;
  // The caller of `method` from `peer` and the on-behalf-of metadata, by the
  // service allow-list (service_allow_list.h). Refusals are PERMISSION_DENIED.
  absl::StatusOr<Caller> Resolve(const grpc::ServerContextBase* context, const Identity& peer,
                                 absl::string_view method) const;
  // Records `refusal` as a DENIED event of `actor` (when an outbox is set).
  absl::Status Refuse(const Identity& actor, absl::string_view method, absl::Status refusal) const;
  absl::Status Refuse(const Caller& caller, absl::string_view method, absl::Status refusal) const;

  // Identify() resolves as for any public method.
  static constexpr char kPublicApiMethod[] = "budstikke.v1.DirectoryService/WhoAmI";
  // The audit action of a refused call to a method that has none of its own
  // (its resource id is the method).
  static constexpr char kActionApiCall[] = "api.call";

  static constexpr size_t kMaxCachedIdentities = 4096;
  std::string trust_domain_;
  AuditOutbox* outbox_ = nullptr;
  RateLimiter* limiter_ = nullptr;
  mutable absl::Mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, Identity> cache_ ABSL_GUARDED_BY(cache_mu_);
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_GRPC_AUTH_H_
