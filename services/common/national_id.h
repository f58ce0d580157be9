// Norwegian national identity numbers (fødselsnummer, D-number, H-number, and
// synthetic test numbers), as described in docs/ARCHITECTURE.md "Domain rules".
//
// Layout: DDMMYY III K1 K2 (11 digits).
//   - D-number:  day + 40.
//   - H-number:  month + 40.
//   - synthetic: month + 80 (test numbers, e.g. Tenor); may be combined with
//                the D-number day offset.
//   - K1: weights 3 7 6 1 8 9 4 5 2 over digits 1-9; valid when
//         (that sum + K1) mod 11 is 0, 1, 2 or 3 (the 2032 rule; 0 is the
//         classic rule).
//   - K2: weights 5 4 3 2 7 6 5 4 3 2 over digits 1-10; classic mod 11
//         (remainder r -> 11 - r, 11 -> 0, 10 invalid).
//   - Century from the individual number III (Skatteetaten):
//         000-499            -> 1900-1999
//         500-749, YY 54-99  -> 1854-1899
//         500-999, YY 00-39  -> 2000-2039
//         900-999, YY 40-99  -> 1940-1999
//   - The birth date after removing the offsets must be a real calendar date.
//
// Thread safety: NationalId is an immutable value type; all functions here are
// thread-compatible and free of global state. Error messages never contain the
// number itself, so they may be logged and returned to clients.
#ifndef BUDSTIKKE_SERVICES_COMMON_NATIONAL_ID_H_
#define BUDSTIKKE_SERVICES_COMMON_NATIONAL_ID_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace budstikke::common {

struct NationalIdOptions {
  // When false, synthetic test numbers (month + 80) are refused with
  // INVALID_ARGUMENT (production: `--refuse-synthetic-ids`).
  bool allow_synthetic = true;
};

enum class NationalIdKind { kFodselsnummer, kDNumber, kHNumber };

class NationalId {
 public:
  // Parses `text`: exactly 11 ASCII digits once ASCII spaces are removed.
  // Errors (all INVALID_ARGUMENT, the number is never echoed):
  //   "national id must have 11 digits"          wrong length
  //   "national id must contain only digits"      other characters
  //   "national id has an invalid first check digit" / "... second ..."
  //   "national id has an invalid birth date"     no real date after offsets
  //   "national id individual number does not match the birth year"
  //   "synthetic national ids are not accepted by this server"
  static absl::StatusOr<NationalId> Parse(std::string_view text,
                                          const NationalIdOptions& opts = {});

  NationalIdKind kind() const { return kind_; }
  bool is_synthetic() const { return synthetic_; }
  int birth_year() const { return year_; }
  int birth_month() const { return month_; }
  int birth_day() const { return day_; }

  // Age in whole years on the given calendar date (a birthday counts on the
  // day itself; someone born 29 February turns a year older on 1 March in
  // non-leap years). Negative when the date precedes the birth date.
  int AgeOn(int year, int month, int day) const;
  int AgeOn(const absl::CivilDay& day) const {
    return AgeOn(static_cast<int>(day.year()), day.month(), day.day());
  }

  // The normalized 11 digits. Sensitive: never log.
  const std::string& digits() const { return digits_; }

  friend bool operator==(const NationalId& a, const NationalId& b) {
    return a.digits_ == b.digits_;
  }
  friend bool operator!=(const NationalId& a, const NationalId& b) { return !(a == b); }

 private:
  NationalId() = default;

  std::string digits_;
  NationalIdKind kind_ = NationalIdKind::kFodselsnummer;
  bool synthetic_ = false;
  int year_ = 0;
  int month_ = 0;
  int day_ = 0;
};

// Fast, non-allocating check used by the PII scanner: `digits` points to 11
// bytes (not necessarily NUL-terminated). True iff all are ASCII digits, both
// check digits hold (2032 rule for K1), the individual number fits a century
// and the birth date is real. Synthetic numbers count only if
// `allow_synthetic`.
bool IsValidNationalIdDigits(const char* digits, bool allow_synthetic = true);

// `text` with every 11 digits that IsValidNationalIdDigits accepts (synthetic
// ones too) replaced by 11 '*': for error messages that echo what a caller
// sent (an id field may hold a national id by mistake; errors reach logs).
std::string MaskNationalIds(std::string_view text);

// True when y-m-d is a real Gregorian calendar date.
bool IsRealDate(int year, int month, int day);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_NATIONAL_ID_H_
