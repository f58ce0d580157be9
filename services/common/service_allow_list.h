// The service allow-list: which Budstikke service identity
// (spiffe://TD/service/NAME) may call which internal RPC
// (budstikke.internal.v1.*), and which may act on behalf of a person on the
// public API. One table in service_allow_list.cc; anything not in it is
// refused (fail closed). The person a service acts for is then checked
// against the authorization table (authz.h) as if they had called directly.
//
// Thread-safe: pure functions over a constant table.
#ifndef BUDSTIKKE_SERVICES_COMMON_SERVICE_ALLOW_LIST_H_
#define BUDSTIKKE_SERVICES_COMMON_SERVICE_ALLOW_LIST_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace budstikke::common {

// A service not allowed an internal RPC, or a person calling one.
inline constexpr char kRuleAuthzService[] = "authz.service";
// On-behalf-of metadata from a person, or from a service not allowed to act
// for people.
inline constexpr char kRuleOnBehalfOf[] = "authz.on_behalf_of";

inline constexpr char kInternalPackagePrefix[] = "budstikke.internal.v1.";

bool IsInternalMethod(absl::string_view method);

// OK, or PERMISSION_DENIED (rule authz.service) naming the service and the
// method.
absl::Status AuthorizeService(absl::string_view service, absl::string_view method);
// True when `service` may assert an on-behalf-of caller on `method` (a public
// method for the gateway and the console; ConsentHooks/ConsentRevoked for the
// consent service).
bool MayActOnBehalf(absl::string_view service, absl::string_view method);

// Every internal method of the table (tests compare it with the proto).
std::vector<absl::string_view> InternalMethods();

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_SERVICE_ALLOW_LIST_H_
