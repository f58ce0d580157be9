// Full dates with a year in a digit run (BIRTH_DATE, WARN by default):
// dd.mm.yyyy, d.m.yy, dd/mm/yyyy, dd-mm-yyyy, dd/mm-yy ("14/3-19"),
// yyyy-mm-dd, and a day number
// followed by a month name and year ("3. mars 2019", "14 okt. 2020").
// Only real calendar dates count ("31.04.2020" does not).
//
// Internal to services/common/pii. Immutable after Create(); Find() is const
// and thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_DATE_RULES_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_DATE_RULES_H_

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/pii/internal/candidate.h"
#include "services/common/pii/internal/digit_run.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace budstikke::pii::pii_internal {

// True when year-month-day is a real Gregorian date.
bool IsCalendarDate(int year, int month, int day);

class DateRules {
 public:
  // INTERNAL if the month-name pattern does not compile.
  static absl::StatusOr<std::unique_ptr<DateRules>> Create();
  ~DateRules();

  void Find(std::string_view text, const DigitRun& run, std::vector<Candidate>* out) const;

 private:
  explicit DateRules(std::unique_ptr<re2::RE2> month_date);
  void FindNumeric(std::string_view text, const DigitRun& run, std::vector<Candidate>* out) const;
  void FindMonthName(std::string_view text, const DigitRun& run, std::vector<Candidate>* out) const;

  std::unique_ptr<re2::RE2> month_date_;  // anchored after the day number
};

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_DATE_RULES_H_
