// Caller identity from an mTLS peer certificate.
//
// A certificate must carry exactly one URI SAN, a SPIFFE ID in the configured
// trust domain of one of two shapes:
//   spiffe://<td>/agency/<agency-id>/role/<role>/user/<user-id>   (a person)
//   spiffe://<td>/service/<name>                                   (a service)
// Anything else is UNAUTHENTICATED with a message saying what is wrong. The
// agency, user and service ids are [a-z0-9._-]{1,64} (lowercase); the role is
// one of the names in RoleFromName.
//
// Thread-safe: pure functions.
#ifndef BUDSTIKKE_SERVICES_COMMON_IDENTITY_H_
#define BUDSTIKKE_SERVICES_COMMON_IDENTITY_H_

#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "budstikke/v1/types.pb.h"

namespace budstikke::common {

using v1::Role;

struct Identity {
  std::string spiffe_id;
  // Set for people; empty for services.
  std::string agency;
  Role role = v1::ROLE_UNSPECIFIED;
  std::string user;
  // Set for service identities (e.g. "referral"); empty for people.
  std::string service;

  bool is_service() const { return !service.empty(); }
};

// Who a call is for: the person, and the Budstikke service that forwarded the
// call on their behalf, if any (microservices mode).
struct Caller {
  Identity identity;
  std::string via_service;

  const std::string& agency() const { return identity.agency; }
  Role role() const { return identity.role; }
};

// "staff", "physician", "psychologist", "child_welfare_leader", "clinician",
// "auditor", "admin".
std::optional<Role> RoleFromName(absl::string_view name);
absl::string_view RoleName(Role role);
// True for the roles that handle children's cases (all but auditor and admin).
bool IsProfessionalRole(Role role);

absl::StatusOr<Identity> ParseSpiffeId(absl::string_view uri, absl::string_view trust_domain);

// Parses the PEM leaf certificate, counts its URI SANs (exactly one required)
// and parses that SPIFFE ID.
absl::StatusOr<Identity> IdentityFromCertificatePem(absl::string_view pem,
                                                    absl::string_view trust_domain);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_IDENTITY_H_
