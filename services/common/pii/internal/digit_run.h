// Digit runs: groups of digits joined by single separators ("912 34 567",
// "14.03.2019", "+47 22 33 44 55"), the unit that the national-id, phone,
// date and postal-code rules look at. Internal to services/common/pii.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_DIGIT_RUN_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_DIGIT_RUN_H_

#include <cstddef>
#include <string_view>

namespace budstikke::pii::pii_internal {

// The separator before a group: whitespace (one or two characters, NBSP, thin
// space), '.', '-' (or en dash), '/'.
enum class Sep : unsigned char { kNone, kSpace, kDot, kDash, kSlash };

struct Group {
  size_t start;
  size_t end;
  Sep sep_before;  // kNone for the first group and for a split-off prefix
  size_t len() const { return end - start; }
};

inline constexpr size_t kMaxGroups = 24;
// DigitRun::prefix_group when there is no country-code prefix, and when it
// lies before the run ("(+47) 912 34 567").
inline constexpr size_t kNoPrefix = kMaxGroups;
inline constexpr size_t kPrefixBeforeRun = kMaxGroups + 1;

struct DigitRun {
  Group groups[kMaxGroups + 1];
  size_t count = 0;
  size_t start = 0;          // first digit
  size_t end = 0;            // after the last digit of the last group
  bool plus_before = false;  // a '+' right before the first digit
  // Country-code prefix "+47", "0047" (its own group, split off when written
  // together with the number) or "(+47) " before the run.
  size_t prefix_group = kNoPrefix;
  size_t prefix_start = 0;  // where a prefixed phone number starts
};

// Reads the run starting at the digit text[p] (at most kMaxGroups groups).
void ReadDigitRun(std::string_view text, size_t p, DigitRun* run);

// The value of the group's first six digits.
int GroupValue(std::string_view text, const Group& g);

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_DIGIT_RUN_H_
