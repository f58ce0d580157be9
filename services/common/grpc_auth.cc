#include "services/common/grpc_auth.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/authz.h"
#include "services/common/errors.h"
#include "services/common/service_allow_list.h"
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

absl::StatusOr<Identity> Authenticator::Peer(const grpc::ServerContextBase* context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context->auth_context();
  if (auth == nullptr || !auth->IsPeerAuthenticated()) {
    return absl::UnauthenticatedError("client certificate required");
  }
  std::vector<grpc::string_ref> pems = auth->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.size() != 1) {
    return absl::UnauthenticatedError("client certificate required");
  }
  return PeerIdentity(absl::string_view(pems[0].data(), pems[0].size()));
}

absl::StatusOr<Caller> Authenticator::Resolve(const grpc::ServerContextBase* context,
                                              const Identity& peer,
                                              absl::string_view method) const {
  auto obo = context->client_metadata().find(kOnBehalfOfMetadata);
  const bool has_obo = obo != context->client_metadata().end();
  Caller caller;
  if (IsInternalMethod(method)) {
    if (!peer.is_service()) {
      return RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleAuthzService,
                         absl::StrCat("only a Budstikke service may call ", method));
    }
    BUDSTIKKE_RETURN_IF_ERROR(AuthorizeService(peer.service, method));
    if (!has_obo) {
      caller.identity = peer;
      caller.via_service = peer.service;
      return caller;
    }
  }
  if (!peer.is_service()) {
    if (has_obo) {
      return RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOnBehalfOf,
                         "only a Budstikke service identity may assert an on-behalf-of caller");
    }
    caller.identity = peer;
    return caller;
  }
  if (!has_obo) {
    return absl::PermissionDeniedError(
        "a service identity must name the caller it acts for (budstikke-on-behalf-of)");
  }
  if (!MayActOnBehalf(peer.service, method)) {
    return RuleRefusal(
        absl::StatusCode::kPermissionDenied, kRuleOnBehalfOf,
        absl::StrCat("service '", peer.service, "' may not act on behalf of a person on ", method));
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

absl::StatusOr<Caller> Authenticator::Identify(const grpc::ServerContextBase* context) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Identity peer, Peer(context));
  return Resolve(context, peer, kPublicApiMethod);
}

absl::StatusOr<Caller> Authenticator::IdentifyForForwarding(const grpc::ServerContextBase* context,
                                                            absl::string_view method) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Identity peer, Peer(context));
  // The gateway forwards only public methods: anything else is identified as
  // for one (and then has no route).
  absl::StatusOr<Caller> caller =
      Resolve(context, peer, IsInternalMethod(method) ? kPublicApiMethod : method);
  if (!caller.ok() && caller.status().code() == absl::StatusCode::kPermissionDenied) {
    return Refuse(peer, method, caller.status());
  }
  return caller;
}

absl::Status Authenticator::Refuse(const Identity& actor, absl::string_view method,
                                   absl::Status refusal) const {
  Caller caller;
  caller.identity = actor;
  caller.via_service = actor.service;
  return Refuse(caller, method, std::move(refusal));
}

absl::Status Authenticator::Refuse(const Caller& caller, absl::string_view method,
                                   absl::Status refusal) const {
  if (outbox_ == nullptr) return refusal;
  absl::string_view action = AuditActionFor(method);
  if (action.empty()) action = kActionApiCall;
  return RecordRefusal(*outbox_, caller,
                       AllowedEvent(action, ResourceKindOfAction(action),
                                    action == kActionApiCall ? std::string(method) : std::string()),
                       refusal);
}

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::ServerContextBase* context,
                                                   absl::string_view method) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Identity peer, Peer(context));
  absl::StatusOr<Caller> caller = Resolve(context, peer, method);
  if (!caller.ok()) {
    // Who sent it is known: a refused assertion or internal call is audited.
    if (caller.status().code() != absl::StatusCode::kPermissionDenied) return caller.status();
    return Refuse(peer, method, caller.status());
  }
  if (IsInternalMethod(method)) return caller;
  if (limiter_ != nullptr) {
    if (std::optional<absl::Duration> wait = limiter_->Take(caller->identity.spiffe_id)) {
      // Audited like every refusal; a flood of them is aggregated (60 s).
      return Refuse(*caller, method, limiter_->Refusal(*wait));
    }
  }
  absl::Status allowed = Authorize(method, caller->role());
  if (!allowed.ok()) {
    const absl::string_view action = AuditActionFor(method);
    if (outbox_ != nullptr && !action.empty()) {
      return RecordRefusal(*outbox_, *caller,
                           AllowedEvent(action, ResourceKindOfAction(action), ""), allowed);
    }
    return allowed;
  }
  return caller;
}

}  // namespace budstikke::common
