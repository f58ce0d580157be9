#include "services/common/national_id.h"

#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/national_id_testing.h"
#include "storage/status_matchers.h"

namespace budstikke::common {
namespace {

using ::budstikke::common::testing::MakeSyntheticNationalId;
using ::budstikke::common::testing::MakeSyntheticNationalIdAgedOn;
using ::budstikke::common::testing::MakeSyntheticNationalIdWithBirthdayOn;
using ::budstikke::testing::IsOk;
using ::budstikke::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// Every id below is synthetic (month + 80) or, where a non-synthetic shape is
// needed (H-number, plain fødselsnummer with allow_synthetic=false), dated in
// 2038-2039 so that it cannot belong to a living person.

int K1Sum(const std::string& s) {
  static constexpr int kW[9] = {3, 7, 6, 1, 8, 9, 4, 5, 2};
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += kW[i] * (s[i] - '0');
  return sum;
}

// Completes 9 digits with a K1 such that (K1 sum incl. K1) % 11 ==
// `k1_remainder` and a classic K2. Returns "" if impossible for this prefix.
std::string Complete(const std::string& nine, int k1_remainder) {
  for (int k1 = 0; k1 <= 9; ++k1) {
    if ((K1Sum(nine) + k1) % 11 != k1_remainder) continue;
    std::string s = nine + static_cast<char>('0' + k1);
    static constexpr int kW2[10] = {5, 4, 3, 2, 7, 6, 5, 4, 3, 2};
    int sum = 0;
    for (int i = 0; i < 10; ++i) sum += kW2[i] * (s[i] - '0');
    const int k2 = (11 - sum % 11) % 11;
    if (k2 == 10) return "";
    return s + static_cast<char>('0' + k2);
  }
  return "";
}

// Searches individual numbers from `first` for a completable prefix.
std::string Build(const std::string& ddmmyy, int first, int last, int k1_remainder = 0) {
  for (int ind = first; ind <= last; ++ind) {
    std::string nine = ddmmyy;
    nine += static_cast<char>('0' + ind / 100);
    nine += static_cast<char>('0' + ind / 10 % 10);
    nine += static_cast<char>('0' + ind % 10);
    std::string id = Complete(nine, k1_remainder);
    if (!id.empty()) return id;
  }
  return "";
}

struct ValidCase {
  const char* name;
  std::string ddmmyy;
  int ind_first, ind_last;
  NationalIdKind kind;
  bool synthetic;
  int year, month, day;
};

class ValidIdTest : public ::testing::TestWithParam<ValidCase> {};

TEST_P(ValidIdTest, ParsesKindAndBirthDate) {
  const ValidCase& c = GetParam();
  const std::string id = Build(c.ddmmyy, c.ind_first, c.ind_last);
  ASSERT_EQ(id.size(), 11u) << c.name;
  auto parsed = NationalId::Parse(id);
  ASSERT_THAT(parsed, IsOk()) << c.name;
  EXPECT_EQ(parsed->kind(), c.kind);
  EXPECT_EQ(parsed->is_synthetic(), c.synthetic);
  EXPECT_EQ(parsed->birth_year(), c.year);
  EXPECT_EQ(parsed->birth_month(), c.month);
  EXPECT_EQ(parsed->birth_day(), c.day);
  EXPECT_EQ(parsed->digits(), id);
  EXPECT_TRUE(IsValidNationalIdDigits(id.data()));
  EXPECT_EQ(IsValidNationalIdDigits(id.data(), /*allow_synthetic=*/false), !c.synthetic);
}

INSTANTIATE_TEST_SUITE_P(
    Variants, ValidIdTest,
    ::testing::Values(
        // Plain synthetic fødselsnummer: month + 80.
        ValidCase{"synthetic", "158415", 500, 999, NationalIdKind::kFodselsnummer, true, 2015, 4,
                  15},
        // Synthetic D-number: day + 40 and month + 80.
        ValidCase{"synthetic D", "559212", 500, 999, NationalIdKind::kDNumber, true, 2012, 12, 15},
        ValidCase{"synthetic D day 71", "718101", 500, 999, NationalIdKind::kDNumber, true, 2001, 1,
                  31},
        // H-number (month + 40), dated 2039.
        ValidCase{"H-number", "104339", 500, 999, NationalIdKind::kHNumber, false, 2039, 3, 10},
        // Plain fødselsnummer shape, dated 2038.
        ValidCase{"fodselsnummer 2038", "010638", 500, 999, NationalIdKind::kFodselsnummer, false,
                  2038, 6, 1},
        // Century rules (synthetic).
        ValidCase{"000-499 -> 1900s", "018205", 0, 499, NationalIdKind::kFodselsnummer, true, 1905,
                  2, 1},
        ValidCase{"000-499 year 99 -> 1999", "288299", 0, 499, NationalIdKind::kFodselsnummer, true,
                  1999, 2, 28},
        ValidCase{"500-749 year 54-99 -> 1800s", "108154", 500, 749, NationalIdKind::kFodselsnummer,
                  true, 1854, 1, 10},
        ValidCase{"500-749 year 99 -> 1899", "109299", 500, 749, NationalIdKind::kFodselsnummer,
                  true, 1899, 12, 10},
        ValidCase{"500-999 year 00 -> 2000", "298200", 500, 999, NationalIdKind::kFodselsnummer,
                  true, 2000, 2, 29},
        ValidCase{"750-999 year 39 -> 2039", "018139", 750, 999, NationalIdKind::kFodselsnummer,
                  true, 2039, 1, 1},
        ValidCase{"900-999 year 40 -> 1940", "018140", 900, 999, NationalIdKind::kFodselsnummer,
                  true, 1940, 1, 1},
        ValidCase{"900-999 year 99 -> 1999", "019199", 900, 999, NationalIdKind::kFodselsnummer,
                  true, 1999, 11, 1}),
    [](const ::testing::TestParamInfo<ValidCase>& info) {
      std::string n;
      for (const char* p = info.param.name; *p; ++p) {
        n += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
      }
      return n;
    });

TEST(NationalIdTest, CenturyGapsAreRejected) {
  // 750-899 with YY 40-99 and 500-749 with YY 40-53 encode no century.
  for (const auto& [ddmmyy, lo, hi] : {std::tuple<std::string, int, int>{"018150", 750, 899},
                                       {"018199", 750, 899},
                                       {"018140", 500, 749},
                                       {"018153", 500, 749}}) {
    const std::string id = Build(ddmmyy, lo, hi);
    ASSERT_EQ(id.size(), 11u);
    EXPECT_THAT(NationalId::Parse(id), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("individual number does not match")))
        << ddmmyy;
    EXPECT_FALSE(IsValidNationalIdDigits(id.data()));
  }
}

TEST(NationalIdTest, Rule2032AcceptsK1RemaindersOneToThree) {
  for (int r = 0; r <= 3; ++r) {
    const std::string id = Build("158415", 500, 999, r);
    ASSERT_EQ(id.size(), 11u) << r;
    // The classic rule accepts only remainder 0.
    EXPECT_EQ((K1Sum(id) + (id[9] - '0')) % 11, r);
    auto parsed = NationalId::Parse(id);
    ASSERT_THAT(parsed, IsOk()) << "remainder " << r;
    EXPECT_EQ(parsed->birth_year(), 2015);
    EXPECT_TRUE(IsValidNationalIdDigits(id.data()));
  }
  for (int r = 4; r <= 10; ++r) {
    const std::string id = Build("158415", 500, 999, r);
    ASSERT_EQ(id.size(), 11u) << r;
    EXPECT_THAT(NationalId::Parse(id), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("invalid first check digit")))
        << "remainder " << r;
    EXPECT_FALSE(IsValidNationalIdDigits(id.data()));
  }
}

TEST(NationalIdTest, BadSecondCheckDigit) {
  std::string id = MakeSyntheticNationalId(2016, 5, 17, 600);
  ASSERT_EQ(id.size(), 11u);
  for (int delta = 1; delta <= 9; ++delta) {
    std::string bad = id;
    bad[10] = static_cast<char>('0' + (id[10] - '0' + delta) % 10);
    EXPECT_THAT(NationalId::Parse(bad), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 HasSubstr("invalid second check digit")));
    EXPECT_FALSE(IsValidNationalIdDigits(bad.data()));
  }
}

TEST(NationalIdTest, SwappedDigitsFailAChecksum) {
  std::string id = MakeSyntheticNationalId(2016, 5, 17, 600);
  std::swap(id[6], id[7]);
  if (id[6] == id[7]) GTEST_SKIP();
  EXPECT_THAT(NationalId::Parse(id),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("check digit")));
}

TEST(NationalIdTest, InvalidDates) {
  struct Case {
    const char* what;
    std::string ddmmyy;
  };
  for (const Case& c :
       {Case{"31 April", "318418"}, Case{"29 Feb non-leap", "298219"},
        Case{"29 Feb 2100-less 1900", "298200"}, Case{"month 13", "019318"},
        Case{"month 0 (synthetic 80)", "018018"}, Case{"day 0", "008118"}, Case{"day 32", "328118"},
        Case{"D-number day 72", "728118"}, Case{"D + H", "414418"}, Case{"H month 53", "015339"}}) {
    // 29.02.00 with 000-499 is 1900 (not a leap year).
    const bool nineteen = std::string(c.what).find("1900") != std::string::npos;
    const std::string id = nineteen ? Build(c.ddmmyy, 0, 499) : Build(c.ddmmyy, 500, 999);
    ASSERT_EQ(id.size(), 11u) << c.what;
    EXPECT_THAT(NationalId::Parse(id),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid birth date")))
        << c.what;
    EXPECT_FALSE(IsValidNationalIdDigits(id.data())) << c.what;
  }
}

TEST(NationalIdTest, LeapDayInLeapYearIsValid) {
  const std::string id = MakeSyntheticNationalId(2020, 2, 29, 700);
  auto parsed = NationalId::Parse(id);
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->birth_day(), 29);
}

TEST(NationalIdTest, WrongLengthAndCharacters) {
  const std::string id = MakeSyntheticNationalId(2018, 3, 5, 512);
  EXPECT_THAT(NationalId::Parse(id.substr(0, 10)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must have 11 digits")));
  EXPECT_THAT(NationalId::Parse(id + "0"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must have 11 digits")));
  EXPECT_THAT(NationalId::Parse(""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must have 11 digits")));
  std::string letters = id;
  letters[4] = 'a';
  EXPECT_THAT(NationalId::Parse(letters),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only digits")));
  EXPECT_THAT(NationalId::Parse(id.substr(0, 6) + "-" + id.substr(6)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only digits")));
  EXPECT_FALSE(IsValidNationalIdDigits(letters.data()));
}

TEST(NationalIdTest, ErrorsNeverEchoTheNumber) {
  const std::string id = MakeSyntheticNationalId(2018, 3, 5, 512);
  std::string bad = id;
  bad[10] = static_cast<char>('0' + (id[10] - '0' + 1) % 10);
  for (const std::string& input : {bad, id.substr(0, 10), id + "x"}) {
    auto parsed = NationalId::Parse(input);
    ASSERT_THAT(parsed, Not(IsOk()));
    EXPECT_THAT(std::string(parsed.status().message()), Not(HasSubstr(id.substr(0, 6))));
  }
}

TEST(NationalIdTest, SpacesAreIgnored) {
  const std::string id = MakeSyntheticNationalId(2018, 3, 5, 512);
  auto parsed = NationalId::Parse(" " + id.substr(0, 6) + " " + id.substr(6) + " ");
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(parsed->digits(), id);
}

TEST(NationalIdTest, SyntheticRefusedWhenNotAllowed) {
  const std::string id = MakeSyntheticNationalId(2018, 3, 5, 512);
  NationalIdOptions opts;
  opts.allow_synthetic = false;
  EXPECT_THAT(NationalId::Parse(id, opts),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("synthetic national ids are not accepted by "
                                 "this server")));
  // A non-synthetic shape (dated 2038) is still accepted.
  const std::string plain = Build("010638", 500, 999);
  EXPECT_THAT(NationalId::Parse(plain, opts), IsOk());
}

TEST(NationalIdTest, GeneratedSyntheticIdsRoundTrip) {
  std::mt19937 rng(20240611);
  std::uniform_int_distribution<int> year(1900, 2039), month(1, 12), day(1, 31), ind(0, 999),
      coin(0, 1);
  int generated = 0;
  while (generated < 10000) {
    const int y = year(rng), m = month(rng), d = day(rng);
    if (!IsRealDate(y, m, d)) continue;
    const bool d_number = coin(rng) == 1;
    const std::string id = MakeSyntheticNationalId(y, m, d, ind(rng), d_number);
    ASSERT_EQ(id.size(), 11u) << y << "-" << m << "-" << d;
    auto parsed = NationalId::Parse(id);
    ASSERT_THAT(parsed, IsOk()) << y << "-" << m << "-" << d;
    ASSERT_TRUE(parsed->is_synthetic());
    ASSERT_EQ(parsed->kind(), d_number ? NationalIdKind::kDNumber : NationalIdKind::kFodselsnummer);
    ASSERT_EQ(parsed->birth_year(), y);
    ASSERT_EQ(parsed->birth_month(), m);
    ASSERT_EQ(parsed->birth_day(), d);
    ASSERT_TRUE(IsValidNationalIdDigits(id.data()));
    ASSERT_FALSE(IsValidNationalIdDigits(id.data(), false));
    ++generated;
  }
}

TEST(NationalIdTest, AgeOn) {
  auto birthday_today = NationalId::Parse(MakeSyntheticNationalIdWithBirthdayOn(16, 2024, 6, 11));
  ASSERT_THAT(birthday_today, IsOk());
  EXPECT_EQ(birthday_today->AgeOn(2024, 6, 11), 16);
  EXPECT_EQ(birthday_today->AgeOn(2024, 6, 10), 15);
  EXPECT_EQ(birthday_today->AgeOn(2024, 5, 30), 15);
  EXPECT_EQ(birthday_today->AgeOn(2025, 1, 1), 16);

  auto turns_tomorrow = NationalId::Parse(MakeSyntheticNationalIdAgedOn(15, 2024, 6, 11));
  ASSERT_THAT(turns_tomorrow, IsOk());
  EXPECT_EQ(turns_tomorrow->AgeOn(2024, 6, 11), 15);
  EXPECT_EQ(turns_tomorrow->AgeOn(2024, 6, 12), 16);

  // Year-end rollover: aged 9 on 31 December, born 1 January.
  auto new_year = NationalId::Parse(MakeSyntheticNationalIdAgedOn(9, 2023, 12, 31));
  ASSERT_THAT(new_year, IsOk());
  EXPECT_EQ(new_year->birth_month(), 1);
  EXPECT_EQ(new_year->birth_day(), 1);
  EXPECT_EQ(new_year->AgeOn(2023, 12, 31), 9);

  // Born 29 February: a year older on 1 March in non-leap years.
  auto leap = NationalId::Parse(MakeSyntheticNationalId(2016, 2, 29, 800));
  ASSERT_THAT(leap, IsOk());
  EXPECT_EQ(leap->AgeOn(2023, 2, 28), 6);
  EXPECT_EQ(leap->AgeOn(2023, 3, 1), 7);
  EXPECT_EQ(leap->AgeOn(2016, 2, 28), -1);
}

TEST(NationalIdTestingTest, GeneratorRespectsCenturyRanges) {
  const std::string a = MakeSyntheticNationalId(1950, 6, 1, 600);  // -> 900+
  ASSERT_EQ(a.size(), 11u);
  EXPECT_GE(std::stoi(a.substr(6, 3)), 900);
  const std::string b = MakeSyntheticNationalId(2010, 6, 1, 100);  // -> 500+
  EXPECT_GE(std::stoi(b.substr(6, 3)), 500);
  const std::string c = MakeSyntheticNationalId(1870, 6, 1, 900);  // -> <=749
  EXPECT_LE(std::stoi(c.substr(6, 3)), 749);
  EXPECT_EQ(MakeSyntheticNationalId(2019, 2, 29, 500), "");
  EXPECT_EQ(MakeSyntheticNationalId(2040, 1, 1, 500), "");
}

}  // namespace
}  // namespace budstikke::common
