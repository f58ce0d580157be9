// Fuzzes national id parsing (services/common/national_id.h): Parse with and
// without synthetic ids, and the scanner's fast check IsValidNationalIdDigits.
// Invariants: a parsed id has 11 digits, a real birth date and a sane age; it
// parses again to itself; Parse and IsValidNationalIdDigits agree on any 11
// ASCII digits; a synthetic id is refused when synthetic ids are not allowed.
#include <cstdint>
#include <string>

#include "services/common/national_id.h"
#include "services/common/national_id_testing.h"
#include "tests/fuzz/fuzz_support.h"

namespace budstikke::fuzz {
namespace {

using common::NationalId;
using common::NationalIdOptions;

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

size_t CountDigits(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (c >= '0' && c <= '9') ? 1 : 0;
  return n;
}

void CheckParsed(const NationalId& id, bool allow_synthetic) {
  FUZZ_CHECK(id.digits().size() == 11 && AllDigits(id.digits()));
  FUZZ_CHECK(common::IsRealDate(id.birth_year(), id.birth_month(), id.birth_day()));
  FUZZ_CHECK(id.birth_year() >= 1854 && id.birth_year() <= 2039);
  FUZZ_CHECK(common::IsValidNationalIdDigits(id.digits().data(), allow_synthetic));
  FUZZ_CHECK(allow_synthetic || !id.is_synthetic());
  FUZZ_CHECK(id.AgeOn(id.birth_year(), id.birth_month(), id.birth_day()) == 0);
  FUZZ_CHECK(id.AgeOn(id.birth_year() + 20, 12, 31) == 20);
  auto again = NationalId::Parse(id.digits(), NationalIdOptions{allow_synthetic});
  FUZZ_CHECK(again.ok() && *again == id && again->kind() == id.kind() &&
             again->is_synthetic() == id.is_synthetic() && again->birth_year() == id.birth_year());
}

}  // namespace
}  // namespace budstikke::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using budstikke::common::testing::MakeSyntheticNationalId;
  budstikke::fuzz::MaybeWriteSeeds({
      MakeSyntheticNationalId(2015, 3, 14, 512),
      MakeSyntheticNationalId(1999, 12, 31, 123, /*d_number=*/true),
      MakeSyntheticNationalId(1880, 2, 29, 600).substr(0, 6) + " " +
          MakeSyntheticNationalId(1880, 2, 29, 600).substr(6),
      MakeSyntheticNationalId(2008, 2, 29, 950),
      "12345678901",
      "0101800",
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace budstikke;
  using namespace budstikke::fuzz;
  const std::string_view text = AsView(data, size);
  for (bool allow : {true, false}) {
    auto id = common::NationalId::Parse(text, common::NationalIdOptions{allow});
    if (id.ok()) {
      CheckParsed(*id, allow);
    } else {
      // Errors never echo the number (its digits).
      FUZZ_CHECK(CountDigits(text) < 6 ||
                 std::string(id.status().message()).find(text) == std::string::npos);
    }
  }
  if (size >= 11) {
    for (bool allow : {true, false}) {
      const bool fast = common::IsValidNationalIdDigits(text.data(), allow);
      if (AllDigits(text.substr(0, 11))) {
        auto id = common::NationalId::Parse(text.substr(0, 11), common::NationalIdOptions{allow});
        FUZZ_CHECK(fast == id.ok());
      } else {
        FUZZ_CHECK(!fast);
      }
    }
  }
  return 0;
}
