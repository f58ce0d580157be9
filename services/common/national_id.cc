#include "services/common/national_id.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"

namespace budstikke::common {
namespace {

constexpr int kK1Weights[9] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
constexpr int kK2Weights[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};

enum class DecodeError {
  kNone,
  kFirstCheckDigit,
  kSecondCheckDigit,
  kCentury,
  kDate,
};

struct Decoded {
  NationalIdKind kind = NationalIdKind::kFodselsnummer;
  bool synthetic = false;
  int year = 0;
  int month = 0;
  int day = 0;
};

// `d` holds 11 digit values 0-9.
DecodeError Decode(const int* d, Decoded* out) {
  int s1 = d[9];  // K1 itself has weight 1 (2032 rule).
  for (int i = 0; i < 9; ++i) s1 += kK1Weights[i] * d[i];
  if (s1 % 11 > 3) return DecodeError::kFirstCheckDigit;
  int s2 = d[10];  // (sum + K2) % 11 == 0 <=> classic K2 rule.
  for (int i = 0; i < 10; ++i) s2 += kK2Weights[i] * d[i];
  if (s2 % 11 != 0) return DecodeError::kSecondCheckDigit;

  int day = d[0] * 10 + d[1];
  int month = d[2] * 10 + d[3];
  const int yy = d[4] * 10 + d[5];
  const int individual = d[6] * 100 + d[7] * 10 + d[8];

  NationalIdKind kind = NationalIdKind::kFodselsnummer;
  bool synthetic = false;
  if (day > 40) {
    day -= 40;
    kind = NationalIdKind::kDNumber;
  }
  if (month > 80) {
    month -= 80;
    synthetic = true;
  } else if (month > 40) {
    if (kind == NationalIdKind::kDNumber) return DecodeError::kDate;
    month -= 40;
    kind = NationalIdKind::kHNumber;
  }

  int century;
  if (individual <= 499) {
    century = 1900;
  } else if (individual <= 749 && yy >= 54) {
    century = 1800;
  } else if (yy <= 39) {
    century = 2000;  // 500-999
  } else if (individual >= 900) {
    century = 1900;  // 900-999 with YY 40-99
  } else {
    return DecodeError::kCentury;
  }
  const int year = century + yy;
  if (!IsRealDate(year, month, day)) return DecodeError::kDate;
  out->kind = kind;
  out->synthetic = synthetic;
  out->year = year;
  out->month = month;
  out->day = day;
  return DecodeError::kNone;
}

}  // namespace

bool IsRealDate(int year, int month, int day) {
  // absl::CivilDay normalizes (30 February -> 2 March): a real date survives.
  const absl::CivilDay d(year, month, day);
  return d.year() == year && d.month() == month && d.day() == day;
}

bool IsValidNationalIdDigits(const char* digits, bool allow_synthetic) {
  int d[11];
  for (int i = 0; i < 11; ++i) {
    const unsigned v = static_cast<unsigned char>(digits[i]) - '0';
    if (v > 9) return false;
    d[i] = static_cast<int>(v);
  }
  Decoded decoded;
  if (Decode(d, &decoded) != DecodeError::kNone) return false;
  return allow_synthetic || !decoded.synthetic;
}

absl::StatusOr<NationalId> NationalId::Parse(std::string_view text, const NationalIdOptions& opts) {
  std::string digits;
  digits.reserve(11);
  bool non_digit = false;
  for (char c : text) {
    if (c == ' ') continue;
    if (c < '0' || c > '9') non_digit = true;
    digits.push_back(c);
  }
  if (non_digit) {
    return absl::InvalidArgumentError("national id must contain only digits");
  }
  if (digits.size() != 11) {
    return absl::InvalidArgumentError("national id must have 11 digits");
  }
  int d[11];
  for (int i = 0; i < 11; ++i) d[i] = digits[i] - '0';
  Decoded decoded;
  switch (Decode(d, &decoded)) {
    case DecodeError::kNone:
      break;
    case DecodeError::kFirstCheckDigit:
      return absl::InvalidArgumentError("national id has an invalid first check digit");
    case DecodeError::kSecondCheckDigit:
      return absl::InvalidArgumentError("national id has an invalid second check digit");
    case DecodeError::kCentury:
      return absl::InvalidArgumentError(
          "national id individual number does not match the birth year");
    case DecodeError::kDate:
      return absl::InvalidArgumentError("national id has an invalid birth date");
  }
  if (decoded.synthetic && !opts.allow_synthetic) {
    return absl::InvalidArgumentError("synthetic national ids are not accepted by this server");
  }
  NationalId id;
  id.digits_ = std::move(digits);
  id.kind_ = decoded.kind;
  id.synthetic_ = decoded.synthetic;
  id.year_ = decoded.year;
  id.month_ = decoded.month;
  id.day_ = decoded.day;
  return id;
}

int NationalId::AgeOn(int year, int month, int day) const {
  int age = year - year_;
  if (month < month_ || (month == month_ && day < day_)) --age;
  return age;
}

std::string MaskNationalIds(std::string_view text) {
  std::string out(text);
  for (size_t i = 0; i + 11 <= out.size(); ++i) {
    if (IsValidNationalIdDigits(out.data() + i)) {
      out.replace(i, 11, 11, '*');
      i += 10;
    }
  }
  return out;
}

}  // namespace budstikke::common
