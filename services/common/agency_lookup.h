// AgencyLookup: what services need from the directory, without depending on
// the directory service's internals. The directory implements it in-process
// (services/directory/directory.h: Directory is-a AgencyLookup); a gRPC
// implementation can serve microservices mode.
#ifndef BUDSTIKKE_SERVICES_COMMON_AGENCY_LOOKUP_H_
#define BUDSTIKKE_SERVICES_COMMON_AGENCY_LOOKUP_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "budstikke/v1/directory.pb.h"

namespace budstikke::common {

class AgencyLookup {
 public:
  virtual ~AgencyLookup() = default;
  // NOT_FOUND "agency 'x' not found" for an unknown id.
  virtual absl::StatusOr<v1::Agency> GetAgency(absl::string_view id) const = 0;
  // Every agency of `type` in `municipality`, ordered by id (may be empty).
  virtual absl::StatusOr<std::vector<v1::Agency>> FindAgencies(
      v1::AgencyType type, absl::string_view municipality) const = 0;
};

// The agency `id`, or `not_found` when the directory does not know it. Any
// other failure (the directory process unreachable: UNAVAILABLE) is returned
// as it is, so that a client retries an outage instead of taking it for a
// refusal of its request.
inline absl::StatusOr<v1::Agency> GetAgencyOr(const AgencyLookup& lookup, absl::string_view id,
                                              absl::Status not_found) {
  absl::StatusOr<v1::Agency> agency = lookup.GetAgency(id);
  if (absl::IsNotFound(agency.status())) return not_found;
  return agency;
}

// The type of agency `id`, AGENCY_TYPE_UNSPECIFIED when the directory does not
// know it; other failures as they are (see GetAgencyOr).
inline absl::StatusOr<v1::AgencyType> AgencyTypeOf(const AgencyLookup& lookup,
                                                   absl::string_view id) {
  absl::StatusOr<v1::Agency> agency = lookup.GetAgency(id);
  if (absl::IsNotFound(agency.status())) return v1::AGENCY_TYPE_UNSPECIFIED;
  if (!agency.ok()) return agency.status();
  return agency->type();
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_AGENCY_LOOKUP_H_
