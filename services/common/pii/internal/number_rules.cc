#include "services/common/pii/internal/number_rules.h"

#include <cstring>

#include "services/common/national_id.h"

namespace budstikke::pii::pii_internal {
namespace {

// Groups a..b of 11 digits in all could be a national id.
bool IdGroupingOk(const Group* g, size_t a, size_t b) {
  // Bank account numbers are written 4.2.5.
  if (b == a + 2 && g[a].len() == 4 && g[a + 1].len() == 2) return false;
  // Digits spelled out one by one, or groups of two or more; not a mix
  // ("telte 4 6 8 10 12 14 16").
  bool singles = false, multi = false;
  for (size_t c = a; c <= b; ++c) (g[c].len() == 1 ? singles : multi) = true;
  return !(singles && multi);
}

bool DateShaped(int year, int month, int day) {
  return year >= 1900 && year <= 2099 && month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// Groups i..j (8 digits, no prefix) are written like a phone number.
bool PhoneShapeOk(std::string_view text, const Group* g, size_t i, size_t j) {
  if (j - i >= 4) return false;
  const Sep sep = j > i ? g[i + 1].sep_before : Sep::kNone;
  for (size_t k = i; k <= j; ++k) {
    if (g[k].len() < 2) return false;
    if (k > i && g[k].sep_before != sep) return false;
  }
  if (sep == Sep::kSlash || (sep == Sep::kNone && j > i)) return false;
  // Thousands grouping ("25 000 000") is an amount, not a phone number.
  if (j > i && g[i].len() <= 3 && (sep == Sep::kSpace || sep == Sep::kDot)) {
    bool thousands = true;
    for (size_t k = i + 1; k <= j; ++k) thousands &= g[k].len() == 3;
    if (thousands) return false;
  }
  // Year ranges ("2019-2020", "2019 2020").
  if (j == i + 1 && g[i].len() == 4 && g[j].len() == 4) {
    const int a = GroupValue(text, g[i]), b = GroupValue(text, g[j]);
    if (a >= 1900 && a <= 2099 && b >= 1900 && b <= 2099) return false;
  }
  // Date-shaped ("24.12.2019", "24 12 2019", "2019-03-14", also impossible
  // ones like "31.04.2020").
  if (j == i + 2 && g[j].len() == 4) {
    if (DateShaped(GroupValue(text, g[j]), GroupValue(text, g[i + 1]), GroupValue(text, g[i]))) {
      return false;
    }
  }
  if (j == i + 2 && g[i].len() == 4 && (sep == Sep::kDash || sep == Sep::kDot)) {
    if (DateShaped(GroupValue(text, g[i]), GroupValue(text, g[i + 1]), GroupValue(text, g[j]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

void FindNationalIds(std::string_view text, const DigitRun& run, bool allow_synthetic,
                     std::vector<Candidate>* out) {
  const Group* g = run.groups;
  for (size_t a = 0; a < run.count; ++a) {
    size_t sum = 0;
    for (size_t b = a; b < run.count; ++b) {
      sum += g[b].len();
      if (sum < 11) continue;
      if (sum > 11 || !IdGroupingOk(g, a, b)) break;
      char digits[11];
      size_t k = 0;
      for (size_t c = a; c <= b; ++c) {
        std::memcpy(digits + k, text.data() + g[c].start, g[c].len());
        k += g[c].len();
      }
      if (common::IsValidNationalIdDigits(digits, allow_synthetic)) {
        out->push_back({FindingKind::kNationalId, g[a].start, g[b].end});
      }
      break;
    }
  }
}

void FindPhones(std::string_view text, const DigitRun& run, std::vector<Candidate>* out) {
  const Group* g = run.groups;
  for (size_t a = 0; a < run.count; ++a) {
    if (a == run.prefix_group) continue;
    const unsigned char first = text[g[a].start];
    if (first < '2' || first > '9') continue;
    size_t sum = 0;
    for (size_t b = a; b < run.count && b < a + 4; ++b) {
      sum += g[b].len();
      if (sum < 8) continue;
      if (sum > 8) break;
      const bool prefixed = (run.prefix_group == kPrefixBeforeRun && a == 0) ||
                            (run.prefix_group < kMaxGroups && a == run.prefix_group + 1);
      if (prefixed) {
        out->push_back({FindingKind::kPhone, run.prefix_start, g[b].end});
      } else if (PhoneShapeOk(text, g, a, b)) {
        out->push_back({FindingKind::kPhone, g[a].start, g[b].end});
      }
      break;
    }
  }
}

}  // namespace budstikke::pii::pii_internal
