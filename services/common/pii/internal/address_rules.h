// Street addresses (ADDRESS, WARN by default): a capitalised street name
// with a street suffix ("Storgata", "Solbakken") or capitalised words before
// a street word ("Kong Oscars gate"), followed by a house number and an
// optional letter ("12B", "5 b"); and a 4-digit postal code followed by a
// place name ("0150 Oslo", "9990 BÅTSFJORD"; a year-like code only after a
// comma or at a line start). The scanner joins a street address and the
// postal code after it into one finding.
//
// Internal to services/common/pii. Immutable after Create(); the Find
// functions are const and thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_ADDRESS_RULES_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_ADDRESS_RULES_H_

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

class AddressRules {
 public:
  // INTERNAL if the house-number pattern does not compile.
  static absl::StatusOr<std::unique_ptr<AddressRules>> Create();
  ~AddressRules();

  // Street address whose street word is [start, end).
  void FindStreet(std::string_view text, size_t start, size_t end,
                  std::vector<Candidate>* out) const;

  // Postal code + place name starting with the run.
  static void FindPostalCode(std::string_view text, const DigitRun& run,
                             std::vector<Candidate>* out);

 private:
  explicit AddressRules(std::unique_ptr<re2::RE2> street_tail);
  size_t StreetStart(std::string_view text, size_t start, size_t end) const;

  std::unique_ptr<re2::RE2> street_tail_;  // anchored after the street word
};

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_ADDRESS_RULES_H_
