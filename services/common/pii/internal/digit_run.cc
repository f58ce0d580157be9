#include "services/common/pii/internal/digit_run.h"

#include <cstring>

#include "services/common/pii/internal/text.h"

namespace budstikke::pii::pii_internal {
namespace {

bool IsSpaceByte(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Length of the separator at p (0 if none) when a digit follows it.
size_t SepAt(std::string_view text, size_t p, Sep* type) {
  const size_t n = text.size();
  if (p >= n) return 0;
  const unsigned char c = text[p];
  size_t len = 0;
  if (IsSpaceByte(c)) {
    len = (p + 1 < n && IsSpaceByte(text[p + 1])) ? 2 : 1;
    *type = Sep::kSpace;
  } else if (c == '.') {
    len = 1;
    *type = Sep::kDot;
  } else if (c == '-') {
    len = 1;
    *type = Sep::kDash;
  } else if (c == '/') {
    len = 1;
    *type = Sep::kSlash;
  } else if (c == 0xC2) {  // NBSP
    if (p + 1 < n && static_cast<unsigned char>(text[p + 1]) == 0xA0) {
      len = 2;
      *type = Sep::kSpace;
    }
  } else if (c == 0xE2) {  // en dash, thin space, narrow NBSP
    if (p + 2 < n && static_cast<unsigned char>(text[p + 1]) == 0x80) {
      const unsigned char c2 = text[p + 2];
      if (c2 == 0x93) {
        len = 3;
        *type = Sep::kDash;
      } else if (c2 == 0x89 || c2 == 0xAF) {
        len = 3;
        *type = Sep::kSpace;
      }
    }
  }
  if (len == 0 || p + len >= n || !IsDigit(text[p + len])) return 0;
  return len;
}

// Splits the first `prefix_len` digits of group 0 into a group of their own.
void SplitFirstGroup(DigitRun* run, size_t prefix_len) {
  Group* g = run->groups;
  std::memmove(&g[1], &g[0], sizeof(Group) * run->count);
  g[0].end = g[0].start + prefix_len;
  g[1].start = g[0].end;
  g[1].sep_before = Sep::kNone;
  ++run->count;
}

// Country-code prefix: "+47", "(+47)", "0047", also written without space.
void FindCountryPrefix(std::string_view text, DigitRun* run) {
  const size_t p = run->start;
  Group* g = run->groups;
  if (run->plus_before && g[0].len() >= 2 && text[p] == '4' && text[p + 1] == '7') {
    if (g[0].len() == 10) SplitFirstGroup(run, 2);  // "+4791234567"
    if (g[0].len() == 2) {
      // "(+47 912 34 567)": the bracket wraps the number and is not part of
      // it ("(+47) 912 34 567" is matched below, from the number's side).
      run->prefix_group = 0;
      run->prefix_start = p - 1;
    }
  } else if (g[0].len() >= 4 && text.compare(p, 4, "0047") == 0) {
    if (g[0].len() == 12) SplitFirstGroup(run, 4);
    if (g[0].len() == 4) {
      run->prefix_group = 0;
      run->prefix_start = p;
    }
  } else {
    // "(+47) 912 34 567"
    size_t q = p;
    size_t spaces = 0;
    while (q > 0 && text[q - 1] == ' ' && spaces < 2) --q, ++spaces;
    if (q >= 5 && text.compare(q - 5, 5, "(+47)") == 0) {
      run->prefix_group = kPrefixBeforeRun;
      run->prefix_start = q - 5;
    }
  }
}

}  // namespace

void ReadDigitRun(std::string_view text, size_t p, DigitRun* run) {
  const size_t n = text.size();
  run->count = 0;
  run->start = p;
  run->prefix_group = kNoPrefix;
  run->prefix_start = 0;
  size_t i = p;
  Sep sep = Sep::kNone;
  while (true) {
    const size_t s = i;
    while (i < n && IsDigit(text[i])) ++i;
    run->groups[run->count++] = Group{s, i, sep};
    if (run->count == kMaxGroups) break;
    const size_t len = SepAt(text, i, &sep);
    if (len == 0) break;
    i += len;
  }
  run->end = i;
  run->plus_before = p > 0 && text[p - 1] == '+';
  FindCountryPrefix(text, run);
}

int GroupValue(std::string_view text, const Group& g) {
  int v = 0;
  for (size_t i = g.start; i < g.end && i < g.start + 6; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

}  // namespace budstikke::pii::pii_internal
