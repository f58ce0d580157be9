// Test support: synthetic national ids (month + 80) for tests of any module.
// Synthetic ids never belong to a real person; use only these in tests.
//
// Header-only; link budstikke::national_id_testing.
#ifndef BUDSTIKKE_SERVICES_COMMON_NATIONAL_ID_TESTING_H_
#define BUDSTIKKE_SERVICES_COMMON_NATIONAL_ID_TESTING_H_

#include <string>

#include "services/common/national_id.h"

namespace budstikke::common::testing {

namespace national_id_testing_internal {

// Appends classic check digits to 9 digits; false if either would be 10.
inline bool AppendCheckDigits(std::string* s) {
  static constexpr int kW1[9] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  static constexpr int kW2[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += kW1[i] * ((*s)[i] - '0');
  int k1 = (11 - sum % 11) % 11;
  if (k1 == 10) return false;
  s->push_back(static_cast<char>('0' + k1));
  sum = 0;
  for (int i = 0; i < 10; ++i) sum += kW2[i] * ((*s)[i] - '0');
  int k2 = (11 - sum % 11) % 11;
  if (k2 == 10) return false;
  s->push_back(static_cast<char>('0' + k2));
  return true;
}

inline std::string TwoDigits(int v) {
  return std::string{static_cast<char>('0' + v / 10), static_cast<char>('0' + v % 10)};
}

}  // namespace national_id_testing_internal

// Returns a synthetic national id (month + 80; day + 40 when `d_number`)
// for the given birth date with valid classic check digits. The individual
// number is the one nearest to `individual` (0-999) within the range that
// encodes the birth year's century. Returns "" when the date is not real or
// the year is outside 1854-2039.
inline std::string MakeSyntheticNationalId(int year, int month, int day, int individual,
                                           bool d_number = false) {
  using national_id_testing_internal::AppendCheckDigits;
  using national_id_testing_internal::TwoDigits;
  if (!IsRealDate(year, month, day)) return "";
  int lo, hi;
  if (year >= 1854 && year <= 1899) {
    lo = 500, hi = 749;
  } else if (year >= 1900 && year <= 1999) {
    lo = 0, hi = year >= 1940 ? 999 : 499;
    if (year >= 1940 && individual >= 500 && individual < 900) individual = 900;
  } else if (year >= 2000 && year <= 2039) {
    lo = 500, hi = 999;
  } else {
    return "";
  }
  if (individual < lo) individual = lo;
  if (individual > hi) individual = hi;
  const std::string prefix =
      TwoDigits(day + (d_number ? 40 : 0)) + TwoDigits(month + 80) + TwoDigits(year % 100);
  for (int delta = 0; delta <= hi - lo; ++delta) {
    for (int sign : {1, -1}) {
      const int ind = individual + sign * delta;
      if (ind < lo || ind > hi) continue;
      if (year >= 1940 && year <= 1999 && ind >= 500 && ind < 900) continue;
      std::string s = prefix;
      s.push_back(static_cast<char>('0' + ind / 100));
      s += TwoDigits(ind % 100);
      if (AppendCheckDigits(&s)) return s;
    }
  }
  return "";
}

inline bool IsLeapYear(int y) { return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0); }

// A synthetic id for someone who turns `age` on `year-month-day` (their
// birthday is that day; 29 February maps to 28 February in non-leap years).
inline std::string MakeSyntheticNationalIdWithBirthdayOn(int age, int year, int month, int day,
                                                         int individual = 123,
                                                         bool d_number = false) {
  int by = year - age;
  int bd = day;
  if (month == 2 && day == 29 && !IsLeapYear(by)) bd = 28;
  return MakeSyntheticNationalId(by, month, bd, individual, d_number);
}

// A synthetic id for someone who is `age` on `year-month-day` and turns
// `age + 1` on the next day (i.e. born on the day after, `age + 1` years
// earlier).
inline std::string MakeSyntheticNationalIdAgedOn(int age, int year, int month, int day,
                                                 int individual = 123, bool d_number = false) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int by = year - age - 1, bm = month, bd = day + 1;
  int max = kDays[month - 1] + (month == 2 && IsLeapYear(by) ? 1 : 0);
  if (bd > max) {
    bd = 1;
    if (++bm > 12) {
      bm = 1;
      ++by;
    }
  }
  return MakeSyntheticNationalId(by, bm, bd, individual, d_number);
}

}  // namespace budstikke::common::testing

#endif  // BUDSTIKKE_SERVICES_COMMON_NATIONAL_ID_TESTING_H_
