// The authorization table: which role may call which RPC. One table for the
// whole API (authz.cc); every adapter method asks it first, through
// Authenticator::Authenticate (grpc_auth.h). Unknown methods are denied (fail
// closed). Finer rules that depend on the resource (e.g. "the recipient
// agency's clinician") are domain rules in the services, not here.
//
// Methods are named "budstikke.v1.DirectoryService/CreateAgency".
#ifndef BUDSTIKKE_SERVICES_COMMON_AUTHZ_H_
#define BUDSTIKKE_SERVICES_COMMON_AUTHZ_H_

#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "services/common/identity.h"

namespace budstikke::common {

inline constexpr char kRuleAuthzRole[] = "authz.role";
inline constexpr char kRuleUnknownMethod[] = "authz.unknown_method";

// OK, or PERMISSION_DENIED whose message names the role and the method and
// whose details carry the rule "authz.role" ("authz.unknown_method" for a
// method the table does not know).
absl::Status Authorize(absl::string_view method, Role role);
bool IsAllowed(absl::string_view method, Role role);
// The audit action of `method` ("referral.read" for ReferralService/Get), or
// "" for a method that touches no child's data (and unknown methods).
absl::string_view AuditActionFor(absl::string_view method);
// Every method the table knows (tests check it covers the whole API).
std::vector<absl::string_view> AuthorizedMethods();

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_AUTHZ_H_
