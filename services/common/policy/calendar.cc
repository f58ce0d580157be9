#include "services/common/policy/calendar.h"

namespace budstikke::policy {

absl::CivilDay EasterSunday(int year) {
  const int a = year % 19;
  const int b = year / 100;
  const int c = year % 100;
  const int d = b / 4;
  const int e = b % 4;
  const int f = (b + 8) / 25;
  const int g = (b - f + 1) / 3;
  const int h = (19 * a + b - d - g + 15) % 30;
  const int i = c / 4;
  const int k = c % 4;
  const int l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int m = (a + 11 * h + 22 * l) / 451;
  const int month = (h + l - 7 * m + 114) / 31;
  const int day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, month, day);
}

bool IsNorwegianPublicHoliday(absl::CivilDay day) {
  const int month = day.month();
  const int dom = day.day();
  if ((month == 1 && dom == 1) || (month == 5 && (dom == 1 || dom == 17)) ||
      (month == 12 && (dom == 25 || dom == 26))) {
    return true;
  }
  const absl::CivilDay easter = EasterSunday(static_cast<int>(day.year()));
  for (int offset : {-3, -2, 0, 1, 39, 49, 50}) {
    if (day == easter + offset) return true;
  }
  return false;
}

bool ClinicOpen(const PolicyRules& rules, absl::Time t, absl::TimeZone zone) {
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::CivilDay day(local);
  const absl::Weekday wd = absl::GetWeekday(day);
  if (wd == absl::Weekday::saturday || wd == absl::Weekday::sunday) return false;
  if (IsNorwegianPublicHoliday(day)) return false;
  const int minute = local.hour() * 60 + local.minute();
  return minute >= rules.clinic_open_minute && minute < rules.clinic_close_minute;
}

}  // namespace budstikke::policy
