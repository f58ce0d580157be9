#include "services/common/pii/internal/date_rules.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/civil_time.h"
#include "re2/re2.h"

namespace budstikke::pii::pii_internal {
namespace {

constexpr std::string_view kMonthPrefixes[] = {"jan", "feb", "mar", "apr", "mai", "jun",
                                               "jul", "aug", "sep", "okt", "nov", "des"};

// 1-12 for a month name's first three letters (any case), else 0.
int MonthNumber(std::string_view name) {
  std::string prefix(name.substr(0, 3));
  for (char& ch : prefix) ch = static_cast<char>(ch | 0x20);
  for (int k = 0; k < 12; ++k) {
    if (kMonthPrefixes[k] == prefix) return k + 1;
  }
  return 0;
}

// Reads day, month and year from groups a..a+2; false if they are not
// written as a date: one kind of separator ("14.03.2019", "14/03/19",
// "2019-03-14"), or "14/3-19" and "14/3-2019".
bool NumericDateAt(std::string_view text, const Group* g, size_t a, int* year, int* month,
                   int* day) {
  const Group& d = g[a];
  const Group& m = g[a + 1];
  const Group& y = g[a + 2];
  const Sep s1 = m.sep_before, s2 = y.sep_before;
  const bool slash_dash = s1 == Sep::kSlash && s2 == Sep::kDash;
  if ((s1 != s2 && !slash_dash) || s1 == Sep::kSpace || s1 == Sep::kNone) return false;
  if (d.len() <= 2 && m.len() <= 2 && (y.len() == 2 || y.len() == 4)) {
    *day = GroupValue(text, d);
    *month = GroupValue(text, m);
    *year = GroupValue(text, y);
    if (y.len() == 2) {
      *year += 2000;
      return true;
    }
    return *year >= 1900 && *year <= 2099;
  }
  if (d.len() == 4 && m.len() <= 2 && y.len() <= 2 && s1 == Sep::kDash && s2 == Sep::kDash) {
    *year = GroupValue(text, d);
    *month = GroupValue(text, m);
    *day = GroupValue(text, y);
    return *year >= 1900 && *year <= 2099;
  }
  return false;
}

}  // namespace

bool IsCalendarDate(int year, int month, int day) {
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  const absl::CivilDay civil(year, month, day);  // normalizes 31.04 to 01.05
  return civil.month() == month && civil.day() == day;
}

absl::StatusOr<std::unique_ptr<DateRules>> DateRules::Create() {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto month_date = std::make_unique<RE2>(
      "(?i)\\.?[ ]?(januar|februar|mars|april|mai|juni|juli|august|september|"
      "oktober|november|desember|jan|febr|feb|mar|apr|jun|jul|aug|sept|sep|okt|"
      "nov|des)\\.?[ ]+((?:19|20)\\d\\d)\\b",
      opts);
  if (!month_date->ok()) return absl::InternalError("PII date pattern failed to compile");
  return std::unique_ptr<DateRules>(new DateRules(std::move(month_date)));
}

DateRules::DateRules(std::unique_ptr<re2::RE2> month_date) : month_date_(std::move(month_date)) {}
DateRules::~DateRules() = default;

void DateRules::Find(std::string_view text, const DigitRun& run,
                     std::vector<Candidate>* out) const {
  FindNumeric(text, run, out);
  FindMonthName(text, run, out);
}

void DateRules::FindNumeric(std::string_view text, const DigitRun& run,
                            std::vector<Candidate>* out) const {
  const Group* g = run.groups;
  for (size_t a = 0; a + 2 < run.count; ++a) {
    int year, month, day;
    if (NumericDateAt(text, g, a, &year, &month, &day) && IsCalendarDate(year, month, day)) {
      out->push_back({FindingKind::kBirthDate, g[a].start, g[a + 2].end});
    }
  }
}

// "3. mars 2019": the run's last group is the day.
void DateRules::FindMonthName(std::string_view text, const DigitRun& run,
                              std::vector<Candidate>* out) const {
  const Group& last = run.groups[run.count - 1];
  if (last.len() > 2 || run.end != last.end) return;
  const int day = GroupValue(text, last);
  if (day < 1 || day > 31) return;
  const size_t limit = std::min(text.size(), last.end + 32);
  re2::StringPiece sub[3];
  if (!month_date_->Match(re2::StringPiece(text.data(), limit), last.end, limit, RE2::ANCHOR_START,
                          sub, 3)) {
    return;
  }
  const int month = MonthNumber(std::string_view(sub[1].data(), sub[1].size()));
  int year = 0;
  for (char c : std::string_view(sub[2].data(), sub[2].size())) year = year * 10 + (c - '0');
  if (month > 0 && IsCalendarDate(year, month, day)) {
    const size_t end = sub[0].data() + sub[0].size() - text.data();
    out->push_back({FindingKind::kBirthDate, last.start, end});
  }
}

}  // namespace budstikke::pii::pii_internal
