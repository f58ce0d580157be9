#include "services/common/grpc_auth.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include "absl/status/status.h"
#include "services/common/audit_event.h"
#include "services/common/authz.h"
#include "storage/status_macros.h"

namespace budstikke::common {

absl::StatusOr<Identity> Authenticator::PeerIdentity(absl::string_view pem) const {
  {
    absl::MutexLock lock(&cache_mu_);
    auto it = cache_.find(pem);
    if (it != cache_.end()) return it->second;
  }
  absl::StatusOr<Identity> identity = IdentityFromCertificatePem(pem, trust_domain_);
  if (identity.ok()) {
    absl::MutexLock lock(&cache_mu_);
    if (cache_.size() >= kMaxCachedIdentities) cache_.clear();
    cache_.emplace(std::string(pem), *identity);
  }
  return identity;
}

absl::StatusOr<Caller> Authenticator::Identify(const grpc::ServerContextBase* context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("client certificate required");
  }
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.size() != 1) {
    return absl::UnauthenticatedError("client certificate required");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(Identity peer,
                             PeerIdentity(absl::string_view(pems[0].data(), pems[0].size())));
  auto obo = context->client_metadata().find(kOnBehalfOfMetadata);
  bool has_obo = obo != context->client_metadata().end();
  Caller caller;
  if (!peer.is_service()) {
    if (has_obo) {
      return absl::PermissionDeniedError(
          "only a Budstikke service identity may assert an on-behalf-of caller");
    }
    caller.identity = std::move(peer);
    return caller;
  }
  if (!has_obo) {
    return absl::PermissionDeniedError(
        "a service identity must name the caller it acts for (budstikke-on-behalf-of)");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(
      Identity person,
      ParseSpiffeId(absl::string_view(obo->second.data(), obo->second.size()), trust_domain_));
  if (person.is_service()) {
    return absl::PermissionDeniedError("on-behalf-of caller must be a person, not a service");
  }
  caller.identity = std::move(person);
  caller.via_service = peer.service;
  return caller;
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContextBase* context,
                                                   absl::string_view method) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Caller caller, Identify(context));
  absl::Status allowed = Authorize(method, caller.role());
  if (!allowed.ok()) {
    const absl::string_view action = AuditActionFor(method);
    if (outbox_ != nullptr && !action.empty()) {
      return RecordRefusal(*outbox_, caller, AllowedEvent(action, ResourceKindOfAction(action), ""),
                           allowed);
    }
    return allowed;
  }
  return caller;
}

}  // namespace budstikke::common
