// Street addresses (ADDRESS, WARN by default): a street name followed by a
// house number of 1-4 digits and an optional letter ("12B", "12 B"):
//  - a capitalised word with a street suffix ("Storgata", "Solbakken",
//    "Frognerallé") or an abbreviated one ("Storgt.", "Kirkevn.",
//    "Bjerkepl.", "Trondheimsv.");
//  - capitalised words before a street word, written out or abbreviated
//    ("Kong Oscars gate", "Bygdøy allé", "Bygdøy Allé", "Thorvald Meyers gt.").
// Also a 4-digit postal code followed by a place name ("0150 Oslo",
// "9990 BÅTSFJORD"; a year-like code only after a comma or at a line start).
// The scanner joins a street address and the postal code after it into one
// finding.
//
// Internal to services/common/pii. Stateless and thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_ADDRESS_RULES_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_ADDRESS_RULES_H_

#include <string_view>
#include <vector>

#include "services/common/pii/internal/candidate.h"
#include "services/common/pii/internal/digit_run.h"

namespace budstikke::pii::pii_internal {

// Street address whose street word (or abbreviation) is [start, end); any
// word may be passed, most return at once.
void FindStreet(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out);

// Postal code + place name starting with the run.
void FindPostalCode(std::string_view text, const DigitRun& run, std::vector<Candidate>* out);

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_ADDRESS_RULES_H_
