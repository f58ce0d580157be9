#include "services/common/pii/internal/address_rules.h"

#include <algorithm>
#include <string>

#include "absl/types/span.h"

#include "services/common/pii/internal/text.h"

namespace budstikke::pii::pii_internal {
namespace {

// Endings of one-word street names ("Storgata", "Solbakken").
constexpr std::string_view kStreetSuffixes[] = {"veien",
                                                "vegen",
                                                "vei",
                                                "veg",
                                                "gata",
                                                "gate",
                                                "gaten",
                                                "stien",
                                                "plassen",
                                                "plass",
                                                "bakken",
                                                "svingen",
                                                "all\xC3\xA9",
                                                "all\xC3\xA9"
                                                "en",
                                                "lia",
                                                "kroken",
                                                "torget",
                                                "tunet",
                                                "ringen",
                                                "l\xC3\xB8kka",
                                                "jordet",
                                                "terrasse",
                                                "stubben",
                                                "grenda"};
// Street words after capitalised words ("Kong Oscars gate").
constexpr std::string_view kStreetWords[] = {"gate",  "gata",     "vei",         "veg",
                                             "veien", "vegen",    "all\xC3\xA9", "alle",
                                             "plass", "terrasse", "torg",        "sti"};

// Abbreviated street words, written with a dot: "gt." (gate, gata),
// "vn." (veien), "v." (vei), "pl." (plass).
constexpr std::string_view kStreetAbbreviations[] = {"gt", "vn", "v", "pl"};

bool EndsWithAny(std::string_view word, absl::Span<const std::string_view> suffixes,
                 size_t min_stem) {
  for (std::string_view suffix : suffixes) {
    if (word.size() >= suffix.size() + min_stem &&
        word.substr(word.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

bool IsAnyOf(std::string_view word, absl::Span<const std::string_view> words) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

// Start of up to three capitalised words right before `start` ("Kong
// Oscars" before "gate"), or npos when there are none.
size_t CapitalizedWordsBefore(std::string_view text, size_t start) {
  size_t s = start, pe;
  for (int k = 0; k < 3; ++k) {
    const size_t ps = PrevWordStart(text, s, &pe);
    if (ps == std::string_view::npos || !IsCapitalized(text, ps, pe)) break;
    s = ps;
  }
  return s != start ? s : std::string_view::npos;
}

// Where the street name that the word [start, end) ends starts, or npos.
// `abbreviated`: a dot follows the word.
size_t StreetStart(std::string_view text, size_t start, size_t end, bool abbreviated) {
  const std::string_view word = text.substr(start, end - start);
  if (abbreviated) {
    if (IsCapitalized(text, start, end)) {
      // "Trondheimsv.", "Kirkev.", not "Gustav." or "Olav." before a number.
      const bool name_like_v = word.size() >= 2 && word.back() == 'v' &&
                               (word[word.size() - 2] == 'a' || word[word.size() - 2] == 'o' ||
                                word[word.size() - 2] == 'i');
      return EndsWithAny(word, kStreetAbbreviations, 3) && !name_like_v ? start
                                                                        : std::string_view::npos;
    }
    // "Thorvald Meyers gt.", "Ole Bulls pl.": the name before is a genitive
    // (not "Bruk v. 2").
    if (!IsAnyOf(word, kStreetAbbreviations) || start < 2 || text[start - 2] != 's') {
      return std::string_view::npos;
    }
    return CapitalizedWordsBefore(text, start);
  }
  if (IsCapitalized(text, start, end)) {
    if (EndsWithAny(word, kStreetSuffixes, 1)) return start;
    // "Bygdøy Allé": a capitalised street word after a capitalised name.
    const std::string lower = LowerWord(word);
    return IsAnyOf(lower, kStreetWords) ? CapitalizedWordsBefore(text, start)
                                        : std::string_view::npos;
  }
  if (!IsAsciiLower(text[start]) || !IsAnyOf(word, kStreetWords)) return std::string_view::npos;
  return CapitalizedWordsBefore(text, start);
}

// End of the house number after the street name ending at p: a space or
// NBSP, 1-4 digits, and a letter written right after them ("12B", "12b") or
// after a space in upper case ("12 B"). npos when there is none.
size_t HouseNumberEnd(std::string_view text, size_t p) {
  const size_t n = text.size();
  if (p < n && text[p] == ' ') {
    ++p;
  } else if (text.compare(p, 2, "\xC2\xA0") == 0) {
    p += 2;
  } else {
    return std::string_view::npos;
  }
  size_t d = p;
  while (d < n && IsDigit(text[d]) && d - p <= 4) ++d;
  if (d == p || d - p > 4) return std::string_view::npos;
  auto ends_word = [&](size_t q) {
    return q >= n || (LetterLen(text, q) == 0 && !IsDigit(text[q]));
  };
  if (d < n && IsAsciiAlpha(text[d]) && ends_word(d + 1)) return d + 1;
  if (d + 1 < n && text[d] == ' ' && IsAsciiUpper(text[d + 1]) && ends_word(d + 2)) return d + 2;
  return ends_word(d) ? d : std::string_view::npos;
}

}  // namespace

void FindStreet(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out) {
  const size_t n = text.size();
  const bool abbreviated = end < n && text[end] == '.';
  if (!abbreviated && end - start < 3) return;
  const size_t after = abbreviated ? end + 1 : end;
  // Cheap test first: a house number follows ("gate 5", "gt. 5", NBSP).
  const size_t sep = after < n && text[after] == ' '           ? 1
                     : text.compare(after, 2, "\xC2\xA0") == 0 ? 2
                                                               : 0;
  if (sep == 0 || after + sep >= n || !IsDigit(text[after + sep])) return;
  const size_t street_start = StreetStart(text, start, end, abbreviated);
  if (street_start == std::string_view::npos) return;
  const size_t house_end = HouseNumberEnd(text, after);
  if (house_end != std::string_view::npos) {
    out->push_back({FindingKind::kAddress, street_start, house_end});
  }
}

void FindPostalCode(std::string_view text, const DigitRun& run, std::vector<Candidate>* out) {
  const size_t n = text.size();
  if (run.count != 1 || run.groups[0].len() != 4 || run.plus_before || run.end + 2 >= n ||
      text[run.end] != ' ') {
    return;
  }
  const size_t w = run.end + 1;
  const size_t we = WordEnd(text, w);
  if (we == w || !(IsCapitalized(text, w, we) || IsAllCaps(text, w, we))) return;
  const int code = GroupValue(text, run.groups[0]);
  if (code >= 1900 && code <= 2099) {
    // Could be a year: require ", " or a line start before it.
    size_t q = run.start;
    while (q > 0 && text[q - 1] == ' ') --q;
    if (!(q == 0 || text[q - 1] == ',' || text[q - 1] == '\n')) return;
  }
  out->push_back({FindingKind::kAddress, run.start, we});
}

}  // namespace budstikke::pii::pii_internal
