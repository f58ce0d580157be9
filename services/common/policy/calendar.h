// The Norwegian working calendar: public holidays (helligdager, fixed and
// Easter-based) and whether a clinic is open at an instant, in Norwegian time
// (absl civil time in the given zone, so DST changes are handled by the time
// zone database, never by hand).
//
// Thread safety: pure functions over values.
#ifndef BUDSTIKKE_SERVICES_COMMON_POLICY_CALENDAR_H_
#define BUDSTIKKE_SERVICES_COMMON_POLICY_CALENDAR_H_

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "services/common/policy/rules.h"

namespace budstikke::policy {

// Easter Sunday of `year` (Gregorian; anonymous Gregorian algorithm).
absl::CivilDay EasterSunday(int year);

// New Year's Day, Maundy Thursday, Good Friday, Easter Sunday and Monday,
// 1 May, 17 May, Ascension Day, Whit Sunday and Monday, 25 and 26 December.
bool IsNorwegianPublicHoliday(absl::CivilDay day);

// Monday-Friday, rules.clinic_open_minute <= local time of day <
// rules.clinic_close_minute in `zone`, not a public holiday.
bool ClinicOpen(const PolicyRules& rules, absl::Time t, absl::TimeZone zone);

}  // namespace budstikke::policy

#endif  // BUDSTIKKE_SERVICES_COMMON_POLICY_CALENDAR_H_
