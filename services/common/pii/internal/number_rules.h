// National ids and phone numbers in a digit run (REFUSE kinds by default).
//
// National id: 11 digits in consecutive groups (any separators, or digits one
// by one) that pass both check digits and decode to a real birth date
// (common::IsValidNationalIdDigits); not bank accounts written 4.2.5.
// Phone: 8 digits starting 2-9 in up to four groups of one grouping style,
// or after a "+47" / "0047" / "(+47)" prefix; amounts in thousands, year
// ranges and date-shaped runs ("24.12.2019", "2019-03-14") are not phones.
//
// Internal to services/common/pii. Pure functions, thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_NUMBER_RULES_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_NUMBER_RULES_H_

#include <string_view>
#include <vector>

#include "services/common/pii/internal/candidate.h"
#include "services/common/pii/internal/digit_run.h"

namespace budstikke::pii::pii_internal {

void FindNationalIds(std::string_view text, const DigitRun& run, bool allow_synthetic,
                     std::vector<Candidate>* out);

void FindPhones(std::string_view text, const DigitRun& run, std::vector<Candidate>* out);

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_NUMBER_RULES_H_
