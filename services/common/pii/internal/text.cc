#include "services/common/pii/internal/text.h"

namespace budstikke::pii::pii_internal {

size_t WordEnd(std::string_view text, size_t p) {
  const size_t n = text.size();
  while (p < n) {
    const unsigned char c = text[p];
    if (IsAsciiAlpha(c)) {
      ++p;
      continue;
    }
    size_t len = c >= 0x80 ? LetterLen(text, p) : 0;
    if (len > 0) {
      p += len;
      continue;
    }
    if ((c == '-' || c == '\'') && p + 1 < n && LetterLen(text, p + 1) > 0) {
      ++p;
      continue;
    }
    break;
  }
  return p;
}

bool IsCapitalized(std::string_view text, size_t start, size_t end) {
  if (!IsUpperAt(text, start)) return false;
  const size_t second = start + (static_cast<unsigned char>(text[start]) < 0x80 ? 1 : 2);
  return second < end && IsLowerAt(text, second);
}

bool IsAllCaps(std::string_view text, size_t start, size_t end) {
  if (end - start < 2) return false;
  for (size_t p = start; p < end;) {
    if (!IsUpperAt(text, p)) return false;
    p += static_cast<unsigned char>(text[p]) < 0x80 ? 1 : 2;
  }
  return true;
}

std::string LowerWord(std::string_view word) {
  std::string out(word);
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = out[i];
    if (IsAsciiUpper(c)) {
      out[i] = static_cast<char>(c | 0x20);
    } else if (c == 0xC3 && i + 1 < out.size()) {
      unsigned char c1 = out[i + 1];
      if (c1 >= 0x80 && c1 <= 0x9E && c1 != 0x97) out[i + 1] = static_cast<char>(c1 + 0x20);
      ++i;
    }
  }
  return out;
}

size_t PrevWordStart(std::string_view text, size_t p, size_t* prev_end) {
  if (p < 2 || text[p - 1] != ' ') return std::string_view::npos;
  size_t e = p - 1;
  size_t s = e;
  while (s > 0) {
    const unsigned char c = text[s - 1];
    if (IsAsciiAlpha(c) || c >= 0x80 || c == '-') {
      --s;
    } else {
      break;
    }
  }
  if (s == e) return std::string_view::npos;
  *prev_end = e;
  return s;
}

bool IsSentenceInitial(std::string_view text, size_t p) {
  while (p > 0) {
    const unsigned char c = text[p - 1];
    if (c == ' ' || c == '\t' || c == '"' || c == '(' || c == '\'' || c == '[') {
      --p;
      continue;
    }
    if (p >= 2 && static_cast<unsigned char>(text[p - 2]) == 0xC2 &&
        (c == 0xAB || c == 0xA0)) {  // « or NBSP
      p -= 2;
      continue;
    }
    if (p == 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) return true;  // byte-order mark
    if (p >= 3 && static_cast<unsigned char>(text[p - 3]) == 0xE2 &&
        static_cast<unsigned char>(text[p - 2]) == 0x80) {
      // “ ‘ – — (quotes and dashes used as bullets) and • (E2 80 A2).
      if (c == 0x9C || c == 0x98 || c == 0x93 || c == 0x94) {
        p -= 3;
        continue;
      }
      if (c == 0xA2) return true;
    }
    return c == '.' || c == '!' || c == '?' || c == '\n' || c == '\r' || c == '*' || c == '-';
  }
  return true;
}

}  // namespace budstikke::pii::pii_internal
