#include "services/common/service_allow_list.h"

#include <initializer_list>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/common/errors.h"

namespace budstikke::common {
namespace {

struct Entry {
  absl::string_view method;
  std::initializer_list<absl::string_view> callers;
};

// Who calls whom in microservices mode (docs/ARCHITECTURE.md has the diagram).
// Every process that records audit events or notifications delivers them from
// its outbox; the gateway and admin record theirs synchronously.
const Entry kTable[] = {
    {"budstikke.internal.v1.DirectoryLookup/GetAgency",
     {"consultation", "consent", "referral", "inbox", "audit", "admin", "gateway"}},
    {"budstikke.internal.v1.DirectoryLookup/FindAgencies",
     {"consultation", "consent", "referral", "inbox", "audit", "admin", "gateway"}},
    {"budstikke.internal.v1.ConsentLookup/GetConsentFacts", {"referral"}},
    {"budstikke.internal.v1.ConsentHooks/ReceivedUnderConsent", {"consent"}},
    {"budstikke.internal.v1.ConsentHooks/ConsentRevoked", {"consent"}},
    {"budstikke.internal.v1.AuditIngest/Append",
     {"directory", "consultation", "consent", "referral", "inbox", "admin", "gateway"}},
    {"budstikke.internal.v1.InboxIngest/Deliver", {"consultation", "consent", "referral"}},
    {"budstikke.internal.v1.KeyAdmin/GetKeyStatus", {"admin"}},
    {"budstikke.internal.v1.KeyAdmin/RotateAgencyKey", {"admin"}},
    {"budstikke.internal.v1.KeyAdmin/ShredAgencyKeyVersion", {"admin"}},
    {"budstikke.internal.v1.KeyAdmin/CreateBackup", {"admin"}},
    {"budstikke.internal.v1.KeyAdmin/GetRewrapProgress", {"admin"}},
};

// May assert a person on the public API: the client-facing gateway and the
// web console (which acts for the person logged in).
constexpr absl::string_view kOnBehalfOnPublicApi[] = {"gateway", "console"};
// Internal RPCs that carry the person who caused them.
constexpr absl::string_view kOnBehalfInternal[] = {
    "budstikke.internal.v1.ConsentHooks/ConsentRevoked"};

const Entry* Find(absl::string_view method) {
  for (const Entry& e : kTable) {
    if (e.method == method) return &e;
  }
  return nullptr;
}

}  // namespace

bool IsInternalMethod(absl::string_view method) {
  return absl::StartsWith(method, kInternalPackagePrefix);
}

absl::Status AuthorizeService(absl::string_view service, absl::string_view method) {
  if (const Entry* e = Find(method)) {
    for (absl::string_view caller : e->callers) {
      if (caller == service) return absl::OkStatus();
    }
  }
  return RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleAuthzService,
                     absl::StrCat("service '", service, "' may not call ", method));
}

bool MayActOnBehalf(absl::string_view service, absl::string_view method) {
  if (IsInternalMethod(method)) {
    for (absl::string_view m : kOnBehalfInternal) {
      if (m == method) return AuthorizeService(service, method).ok();
    }
    return false;
  }
  for (absl::string_view s : kOnBehalfOnPublicApi) {
    if (s == service) return true;
  }
  return false;
}

std::vector<absl::string_view> InternalMethods() {
  std::vector<absl::string_view> out;
  for (const Entry& e : kTable) out.push_back(e.method);
  return out;
}

}  // namespace budstikke::common
