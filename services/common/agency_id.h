// The one rule for an agency id (the directory's key, and what every other
// service and every audit event names an agency by): 2-64 characters of
// a-z, 0-9 and '-', not starting with '-'.
#ifndef BUDSTIKKE_SERVICES_COMMON_AGENCY_ID_H_
#define BUDSTIKKE_SERVICES_COMMON_AGENCY_ID_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace budstikke::common {

// OK, or INVALID_ARGUMENT "<field> must be 2-64 characters of a-z, 0-9 and
// '-', e.g. \"bup-oslo\"".
absl::Status ValidateAgencyId(absl::string_view id, absl::string_view field = "agency");

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_AGENCY_ID_H_
