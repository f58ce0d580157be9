// Calendar days for the domain rules: Norwegian local days as absl::CivilDay.
//
// Every rule that compares days (consent validity, ages, the PPT parent
// conversation) uses these; there is no hand-written calendar arithmetic
// anywhere else. Pure functions; thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_POLICY_DATES_H_
#define BUDSTIKKE_SERVICES_COMMON_POLICY_DATES_H_

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "budstikke/v1/types.pb.h"

namespace budstikke::policy {

using CivilDate = absl::CivilDay;

// v1::Date <-> CivilDate. FromProto normalizes an impossible date (check
// common::IsRealDate, services/common/national_id.h, where the date comes
// from a caller).
CivilDate FromProto(const v1::Date& d);
v1::Date ToProto(const CivilDate& d);

// The calendar day of `t` in `zone` (production: Europe/Oslo).
CivilDate DateOf(absl::Time t, absl::TimeZone zone);
// Europe/Oslo, or UTC if the time zone database is missing.
absl::TimeZone NorwegianTimeZone();

// `d` plus `months` (may be negative); a day past the end of the target month
// becomes its last day (31 May - 3 months = 28/29 February).
CivilDate AddMonths(const CivilDate& d, int months);
// `d` plus `years` (29 February becomes 28 February in non-leap years).
CivilDate AddYears(const CivilDate& d, int years);

}  // namespace budstikke::policy

#endif  // BUDSTIKKE_SERVICES_COMMON_POLICY_DATES_H_
