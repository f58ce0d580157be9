// Character classes and word boundaries for the PII scanner.
//
// Byte-oriented UTF-8: positions are byte offsets, a "letter" is an ASCII
// letter, a Latin-1 letter (C3 xx except the signs x and /), another two-byte
// script letter, or a three/four-byte character outside General Punctuation
// (E2 leads) other than the byte-order mark U+FEFF (a text may start with
// one). Upper and lower case are known for ASCII
// and the Latin-1 range (Æ Ø Å É ...), which covers Norwegian. Malformed UTF-8
// never reads past the end of the text.
//
// Internal to services/common/pii. Pure functions, thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_TEXT_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace budstikke::pii::pii_internal {

inline bool IsDigit(unsigned char c) { return static_cast<unsigned>(c - '0') < 10u; }
inline bool IsAsciiUpper(unsigned char c) { return static_cast<unsigned>(c - 'A') < 26u; }
inline bool IsAsciiLower(unsigned char c) { return static_cast<unsigned>(c - 'a') < 26u; }
inline bool IsAsciiAlpha(unsigned char c) { return static_cast<unsigned>((c | 0x20) - 'a') < 26u; }
inline bool IsAsciiAlnum(unsigned char c) { return IsAsciiAlpha(c) || IsDigit(c); }

// Length in bytes of the letter starting at text[p], or 0 if it is not one.
inline size_t LetterLen(std::string_view text, size_t p) {
  const unsigned char c = text[p];
  if (c < 0x80) return IsAsciiAlpha(c) ? 1 : 0;
  const size_t n = text.size();
  if (c == 0xC3) {
    if (p + 1 >= n) return 0;
    const unsigned char c1 = text[p + 1];
    return (c1 == 0x97 || c1 == 0xB7 || c1 < 0x80 || c1 > 0xBF) ? 0 : 2;
  }
  if (c >= 0xC4 && c <= 0xDF) return p + 1 < n ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF && c != 0xE2) {
    if (p + 2 >= n) return 0;
    const bool bom = c == 0xEF && static_cast<unsigned char>(text[p + 1]) == 0xBB &&
                     static_cast<unsigned char>(text[p + 2]) == 0xBF;
    return bom ? 0 : 3;
  }
  if (c >= 0xF0 && c <= 0xF4) return p + 3 < n ? 4 : 0;
  return 0;
}

// An upper-case (lower-case) letter starts at text[p].
inline bool IsUpperAt(std::string_view text, size_t p) {
  const unsigned char c = text[p];
  if (c < 0x80) return IsAsciiUpper(c);
  if (c == 0xC3 && p + 1 < text.size()) {
    const unsigned char c1 = text[p + 1];
    return c1 >= 0x80 && c1 <= 0x9E && c1 != 0x97;
  }
  return false;
}

inline bool IsLowerAt(std::string_view text, size_t p) {
  const unsigned char c = text[p];
  if (c < 0x80) return IsAsciiLower(c);
  if (c == 0xC3 && p + 1 < text.size()) {
    const unsigned char c1 = text[p + 1];
    return c1 >= 0x9F && c1 <= 0xBF && c1 != 0xB7;
  }
  return false;
}

// End of the word starting at p: letters, joined by single '-' or '\''.
size_t WordEnd(std::string_view text, size_t p);

// An upper-case letter followed by a lower-case one at [start, end).
bool IsCapitalized(std::string_view text, size_t start, size_t end);

// At least two letters, all upper-case ("NAV", "BÅTSFJORD").
bool IsAllCaps(std::string_view text, size_t start, size_t end);

// Lower-cases ASCII and the Latin-1 capitals (C3 80-9E) of a word.
std::string LowerWord(std::string_view word);

// Start of the word that ends right before a single space at p - 1 (its end
// goes to *prev_end), or npos when there is none.
size_t PrevWordStart(std::string_view text, size_t p, size_t* prev_end);

// The word at p starts a sentence: only spaces, quotes, opening brackets and
// a byte-order mark lie between it and the start of text, '.', '!', '?', a line break or a
// bullet.
bool IsSentenceInitial(std::string_view text, size_t p);

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_TEXT_H_
