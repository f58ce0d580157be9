#include "services/common/pii/internal/address_rules.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "re2/re2.h"
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

bool HasStreetSuffix(std::string_view word) {
  for (std::string_view suffix : kStreetSuffixes) {
    if (word.size() > suffix.size() && word.substr(word.size() - suffix.size()) == suffix) {
      return true;
    }
  }
  return false;
}

bool IsStreetWord(std::string_view word) {
  return std::find(std::begin(kStreetWords), std::end(kStreetWords), word) !=
         std::end(kStreetWords);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AddressRules>> AddressRules::Create() {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto tail = std::make_unique<RE2>("(?: |\\x{00A0})(\\d{1,4})(?: ?[A-Za-z])?\\b", opts);
  if (!tail->ok()) return absl::InternalError("PII address pattern failed to compile");
  return std::unique_ptr<AddressRules>(new AddressRules(std::move(tail)));
}

AddressRules::AddressRules(std::unique_ptr<re2::RE2> street_tail)
    : street_tail_(std::move(street_tail)) {}
AddressRules::~AddressRules() = default;

// Where the street name that [start, end) ends starts, or npos.
size_t AddressRules::StreetStart(std::string_view text, size_t start, size_t end) const {
  const std::string_view word = text.substr(start, end - start);
  if (IsCapitalized(text, start, end)) {
    return HasStreetSuffix(word) ? start : std::string_view::npos;
  }
  if (!IsAsciiLower(text[start]) || !IsStreetWord(word)) return std::string_view::npos;
  // "Kong Oscars gate 5": up to three capitalised words before it.
  size_t s = start, pe;
  for (int k = 0; k < 3; ++k) {
    const size_t ps = PrevWordStart(text, s, &pe);
    if (ps == std::string_view::npos || !IsCapitalized(text, ps, pe)) break;
    s = ps;
  }
  return s != start ? s : std::string_view::npos;
}

void AddressRules::FindStreet(std::string_view text, size_t start, size_t end,
                              std::vector<Candidate>* out) const {
  if (end - start < 3 || end + 1 >= text.size() ||
      (text[end] != ' ' && static_cast<unsigned char>(text[end]) != 0xC2)) {
    return;
  }
  const size_t street_start = StreetStart(text, start, end);
  if (street_start == std::string_view::npos) return;
  const size_t limit = std::min(text.size(), end + 12);
  re2::StringPiece m;
  if (street_tail_->Match(re2::StringPiece(text.data(), limit), end, limit, RE2::ANCHOR_START, &m,
                          1)) {
    out->push_back({FindingKind::kAddress, street_start,
                    static_cast<size_t>(m.data() + m.size() - text.data())});
  }
}

void AddressRules::FindPostalCode(std::string_view text, const DigitRun& run,
                                  std::vector<Candidate>* out) {
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
