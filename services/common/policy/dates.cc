#include "services/common/policy/dates.h"

namespace budstikke::policy {

CivilDate FromProto(const v1::Date& d) { return CivilDate(d.year(), d.month(), d.day()); }

v1::Date ToProto(const CivilDate& d) {
  v1::Date p;
  p.set_year(static_cast<int32_t>(d.year()));
  p.set_month(d.month());
  p.set_day(d.day());
  return p;
}

CivilDate DateOf(absl::Time t, absl::TimeZone zone) { return absl::ToCivilDay(t, zone); }

absl::TimeZone NorwegianTimeZone() {
  absl::TimeZone tz;
  if (absl::LoadTimeZone("Europe/Oslo", &tz)) return tz;
  return absl::UTCTimeZone();
}

CivilDate AddMonths(const CivilDate& d, int months) {
  const absl::CivilMonth target = absl::CivilMonth(d) + months;
  const CivilDate last = CivilDate(target + 1) - 1;
  return d.day() > last.day() ? last : CivilDate(target.year(), target.month(), d.day());
}

CivilDate AddYears(const CivilDate& d, int years) { return AddMonths(d, 12 * years); }

}  // namespace budstikke::policy
