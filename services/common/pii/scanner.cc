#include "services/common/pii/scanner.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "re2/re2.h"
#include "services/common/national_id.h"

namespace budstikke::pii {
namespace internal {
extern const std::string_view kEmbeddedNames;
}  // namespace internal

namespace {

// ---------------------------------------------------------------------------
// Character classes (UTF-8, byte oriented).

inline bool IsDigit(unsigned char c) { return static_cast<unsigned>(c - '0') < 10u; }
inline bool IsAsciiUpper(unsigned char c) { return static_cast<unsigned>(c - 'A') < 26u; }
inline bool IsAsciiLower(unsigned char c) { return static_cast<unsigned>(c - 'a') < 26u; }
inline bool IsAsciiAlpha(unsigned char c) { return static_cast<unsigned>((c | 0x20) - 'a') < 26u; }
inline bool IsAsciiAlnum(unsigned char c) { return IsAsciiAlpha(c) || IsDigit(c); }

// Length of the letter starting at text[p], or 0 if it is not a letter.
// Non-ASCII: Latin-1 letters (C3 xx except × ÷), other two-byte scripts
// (C4-DF leads) and three/four-byte characters outside General Punctuation
// (E2 leads) count as letters; C2 (NBSP, «, », ...) and E2 do not.
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
  if (c >= 0xE0 && c <= 0xEF && c != 0xE2) return p + 2 < n ? 3 : 0;
  if (c >= 0xF0 && c <= 0xF4) return p + 3 < n ? 4 : 0;
  return 0;
}

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

// End of the word starting at p (letters, joined by single '-' or '\'').
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

// Capitalised: an upper-case letter followed by a lower-case one.
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

// Lower-cases ASCII and the Norwegian/Latin-1 capitals (C3 80-9E) of a word.
std::string LowerWord(std::string_view w) {
  std::string out(w);
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

// Start of the word that ends right before a single space at p - 1, or npos.
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

// True when the word at p starts a sentence: nothing but spaces, quotes and
// opening brackets between it and the start of text, '.', '!', '?', a line
// break or a bullet.
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

// ---------------------------------------------------------------------------
// Digit chains: digit groups joined by single separators.

enum class Sep : unsigned char { kNone, kSpace, kDot, kDash, kSlash };

// Length of the separator at p (0 if none) when a digit follows it.
inline size_t SepAt(std::string_view text, size_t p, Sep* type) {
  const size_t n = text.size();
  if (p >= n) return 0;
  const unsigned char c = text[p];
  size_t len = 0;
  switch (c) {
    case ' ':
    case '\t':
    case '\n':
    case '\r': {
      len = 1;
      if (p + 1 < n) {
        const unsigned char c1 = text[p + 1];
        if (c1 == ' ' || c1 == '\t' || c1 == '\n' || c1 == '\r') len = 2;
      }
      *type = Sep::kSpace;
      break;
    }
    case '.':
      len = 1;
      *type = Sep::kDot;
      break;
    case '-':
      len = 1;
      *type = Sep::kDash;
      break;
    case '/':
      len = 1;
      *type = Sep::kSlash;
      break;
    case 0xC2:  // NBSP
      if (p + 1 < n && static_cast<unsigned char>(text[p + 1]) == 0xA0) {
        len = 2;
        *type = Sep::kSpace;
      }
      break;
    case 0xE2:  // en dash, thin space, narrow NBSP
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
      break;
    default:
      break;
  }
  if (len == 0 || p + len >= n || !IsDigit(text[p + len])) return 0;
  return len;
}

struct Group {
  size_t start;
  size_t end;
  Sep sep_before;  // kNone for the first group and for a split-off prefix
  size_t len() const { return end - start; }
};

constexpr size_t kMaxGroups = 24;

struct Candidate {
  FindingKind kind;
  size_t start;
  size_t end;
};

int Priority(FindingKind k) {
  switch (k) {
    case FindingKind::kEmail:
      return 0;
    case FindingKind::kNationalId:
      return 1;
    case FindingKind::kPhone:
      return 2;
    case FindingKind::kBirthDate:
      return 3;
    case FindingKind::kAddress:
      return 4;
    case FindingKind::kName:
      return 5;
  }
  return 6;
}

int GroupValue(std::string_view text, const Group& g) {
  int v = 0;
  for (size_t i = g.start; i < g.end && i < g.start + 6; ++i) v = v * 10 + (text[i] - '0');
  return v;
}

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
constexpr std::string_view kStreetWords[] = {"gate",  "gata",     "vei",         "veg",
                                             "veien", "vegen",    "all\xC3\xA9", "alle",
                                             "plass", "terrasse", "torg",        "sti"};

constexpr std::string_view kCueWords[] = {"gutten",
                                          "gutt",
                                          "jenta",
                                          "jente",
                                          "jenten",
                                          "barnet",
                                          "eleven",
                                          "mor",
                                          "far",
                                          "mora",
                                          "moren",
                                          "faren",
                                          "mamma",
                                          "pappa",
                                          "bror",
                                          "broren",
                                          "s\xC3\xB8ster",
                                          "s\xC3\xB8steren",
                                          "s\xC3\xB8stera",
                                          "heter",
                                          "het",
                                          "kalt",
                                          "kalles",
                                          "navn",
                                          "navnet",
                                          "onkel",
                                          "tante",
                                          "bestemor",
                                          "bestefar",
                                          "farmor",
                                          "mormor",
                                          "morfar",
                                          "farfar",
                                          "stefar",
                                          "stemor",
                                          "stefaren",
                                          "stemoren",
                                          "venninnen",
                                          "venninna",
                                          "vennen",
                                          "kompisen",
                                          "lillebror",
                                          "storebror",
                                          "lilles\xC3\xB8ster",
                                          "stores\xC3\xB8ster",
                                          "s\xC3\xB8nnen",
                                          "datteren",
                                          "dattera",
                                          "fosterfar",
                                          "fostermor",
                                          "kj\xC3\xA6resten",
                                          "samboer",
                                          "samboeren",
                                          "foresatt",
                                          "verge"};

}  // namespace

// ---------------------------------------------------------------------------

struct Scanner::Impl {
  std::map<FindingKind, Severity> severities;
  bool scan[6] = {false, false, false, false, false, false};
  bool allow_synthetic = true;
  std::string names_storage;                          // backs `names` when loaded from a file
  absl::flat_hash_map<std::string_view, bool> names;  // name -> common word
  absl::flat_hash_set<std::string_view> cues;
  std::unique_ptr<RE2> month_date;   // anchored after the day number
  std::unique_ptr<RE2> street_tail;  // anchored after the street word

  bool Enabled(FindingKind k) const { return scan[static_cast<int>(k)]; }

  void ScanEmails(std::string_view text, std::vector<Candidate>* out) const;
  void ScanChain(std::string_view text, size_t p, size_t* chain_end,
                 std::vector<Candidate>* out) const;
  void ScanWord(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out,
                size_t* last_name) const;
  bool PhoneShapeOk(std::string_view text, const Group* g, size_t i, size_t j) const;
};

namespace {

std::string_view StripWs(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Parses the name list; the map's keys point into `data`, which must outlive it.
absl::Status LoadNames(std::string_view data, absl::flat_hash_map<std::string_view, bool>* names) {
  int line_no = 0;
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view line = data.substr(0, nl);
    data.remove_prefix(nl == std::string_view::npos ? data.size() : nl + 1);
    ++line_no;
    line = StripWs(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> parts;
    while (!line.empty()) {
      size_t sp = line.find_first_of(" \t");
      parts.push_back(line.substr(0, sp));
      if (sp == std::string_view::npos) break;
      line = StripWs(line.substr(sp));
    }
    if (parts.size() < 2 || parts.size() > 3 || (parts[0] != "first" && parts[0] != "last") ||
        (parts.size() == 3 && parts[2] != "common")) {
      return absl::InvalidArgumentError(
          absl::StrCat("name list line ", line_no, ": expected \"first|last <Name> [common]\""));
    }
    const bool common = parts.size() == 3;
    auto [it, inserted] = names->emplace(parts[1], common);
    if (!inserted) it->second = it->second || common;
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view FindingKindName(FindingKind kind) {
  switch (kind) {
    case FindingKind::kNationalId:
      return "NATIONAL_ID";
    case FindingKind::kPhone:
      return "PHONE";
    case FindingKind::kEmail:
      return "EMAIL";
    case FindingKind::kName:
      return "NAME";
    case FindingKind::kBirthDate:
      return "BIRTH_DATE";
    case FindingKind::kAddress:
      return "ADDRESS";
  }
  return "UNKNOWN";
}

std::string_view SeverityName(Severity severity) {
  return severity == Severity::kRefuse ? "REFUSE" : "WARN";
}

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kOk:
      return "OK";
    case Verdict::kWarn:
      return "WARN";
    case Verdict::kRefuse:
      return "REFUSE";
  }
  return "UNKNOWN";
}

Verdict VerdictOf(const std::vector<Finding>& findings) {
  Verdict v = Verdict::kOk;
  for (const Finding& f : findings) {
    if (f.severity == Severity::kRefuse) return Verdict::kRefuse;
    v = Verdict::kWarn;
  }
  return v;
}

std::map<FindingKind, Severity> DefaultSeverities() {
  return {{FindingKind::kNationalId, Severity::kRefuse}, {FindingKind::kPhone, Severity::kRefuse},
          {FindingKind::kEmail, Severity::kRefuse},      {FindingKind::kName, Severity::kWarn},
          {FindingKind::kBirthDate, Severity::kWarn},    {FindingKind::kAddress, Severity::kWarn}};
}

Scanner::Scanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Scanner::~Scanner() = default;

absl::StatusOr<std::unique_ptr<Scanner>> Scanner::Create(ScannerConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->severities = std::move(config.severities);
  for (const auto& [kind, severity] : impl->severities) {
    impl->scan[static_cast<int>(kind)] = true;
  }
  impl->allow_synthetic = config.allow_synthetic;
  if (impl->Enabled(FindingKind::kName)) {
    if (config.names_path.empty()) {
      auto st = LoadNames(internal::kEmbeddedNames, &impl->names);
      if (!st.ok()) return st;
    } else {
      std::ifstream in(config.names_path, std::ios::binary);
      if (!in) {
        return absl::NotFoundError(absl::StrCat("cannot read name list ", config.names_path));
      }
      std::stringstream buf;
      buf << in.rdbuf();
      impl->names_storage = buf.str();
      auto st = LoadNames(impl->names_storage, &impl->names);
      if (!st.ok()) return st;
    }
    for (std::string_view cue : kCueWords) impl->cues.emplace(cue);
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  impl->month_date = std::make_unique<RE2>(
      "(?i)\\.?[ ]?(januar|februar|mars|april|mai|juni|juli|august|september|"
      "oktober|november|desember|jan|febr|feb|mar|apr|jun|jul|aug|sept|sep|okt|"
      "nov|des)\\.?[ ]+((?:19|20)\\d\\d)\\b",
      opts);
  impl->street_tail = std::make_unique<RE2>("(?: |\\x{00A0})(\\d{1,4})(?: ?[A-Za-z])?\\b", opts);
  if (!impl->month_date->ok() || !impl->street_tail->ok()) {
    return absl::InternalError("PII scanner patterns failed to compile");
  }
  return std::unique_ptr<Scanner>(new Scanner(std::move(impl)));
}

void Scanner::Impl::ScanEmails(std::string_view text, std::vector<Candidate>* out) const {
  const char* base = text.data();
  const size_t n = text.size();
  size_t from = 0;
  while (from < n) {
    const void* hit = std::memchr(base + from, '@', n - from);
    if (hit == nullptr) break;
    const size_t at = static_cast<const char*>(hit) - base;
    from = at + 1;
    size_t s = at;
    while (s > 0) {
      const unsigned char c = text[s - 1];
      if (IsAsciiAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') {
        --s;
      } else {
        break;
      }
    }
    while (s < at && text[s] == '.') ++s;
    if (s == at) continue;
    size_t e = at + 1;
    size_t last_dot = std::string_view::npos;
    while (e < n) {
      const unsigned char c = text[e];
      if (IsAsciiAlnum(c) || c == '-') {
        ++e;
      } else if (c == '.' && e + 1 < n && IsAsciiAlnum(text[e + 1])) {
        last_dot = e;
        ++e;
      } else {
        break;
      }
    }
    if (last_dot == std::string_view::npos || last_dot <= at + 1) continue;
    if (e - last_dot - 1 < 2) continue;
    bool tld_alpha = true;
    for (size_t i = last_dot + 1; i < e; ++i) tld_alpha &= IsAsciiAlpha(text[i]);
    if (!tld_alpha) continue;
    out->push_back({FindingKind::kEmail, s, e});
    from = e;
  }
}

bool Scanner::Impl::PhoneShapeOk(std::string_view text, const Group* g, size_t i, size_t j) const {
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
  // Date-shaped ("24.12.2019", "24 12 2019", also impossible ones like
  // "31.04.2020").
  if (j == i + 2 && g[j].len() == 4) {
    const int y = GroupValue(text, g[j]);
    const int m = GroupValue(text, g[i + 1]), d = GroupValue(text, g[i]);
    if (y >= 1900 && y <= 2099 && m >= 1 && m <= 12 && d >= 1 && d <= 31) {
      return false;
    }
  }
  return true;
}

void Scanner::Impl::ScanChain(std::string_view text, size_t p, size_t* chain_end,
                              std::vector<Candidate>* out) const {
  const size_t n = text.size();
  Group g[kMaxGroups + 1];
  size_t ng = 0;
  size_t i = p;
  Sep sep = Sep::kNone;
  while (true) {
    const size_t s = i;
    while (i < n && IsDigit(text[i])) ++i;
    g[ng++] = Group{s, i, sep};
    if (ng == kMaxGroups) break;
    const size_t len = SepAt(text, i, &sep);
    if (len == 0) break;
    i += len;
  }
  *chain_end = i;

  // Country-code prefix: "+47", "(+47)", "0047", also written without space.
  bool plus_before = p > 0 && text[p - 1] == '+';
  size_t prefix_group = kMaxGroups;  // index of a "47"/"0047" prefix group
  size_t prefix_start = 0;
  if (plus_before && g[0].len() >= 2 && text[p] == '4' && text[p + 1] == '7') {
    if (g[0].len() == 10) {  // "+4791234567": split
      std::memmove(&g[1], &g[0], sizeof(Group) * ng);
      g[0].end = g[0].start + 2;
      g[1].start = g[0].end;
      g[1].sep_before = Sep::kNone;
      ++ng;
    }
    if (g[0].len() == 2) {
      // "(+47 912 34 567)": the bracket wraps the number and is not part of
      // it ("(+47) 912 34 567" is matched below, from the number's side).
      prefix_group = 0;
      prefix_start = p - 1;
    }
  } else if (g[0].len() >= 4 && text.compare(p, 4, "0047") == 0) {
    if (g[0].len() == 12) {
      std::memmove(&g[1], &g[0], sizeof(Group) * ng);
      g[0].end = g[0].start + 4;
      g[1].start = g[0].end;
      g[1].sep_before = Sep::kNone;
      ++ng;
    }
    if (g[0].len() == 4) {
      prefix_group = 0;
      prefix_start = p;
    }
  } else {
    // "(+47) 912 34 567"
    size_t q = p;
    size_t spaces = 0;
    while (q > 0 && text[q - 1] == ' ' && spaces < 2) --q, ++spaces;
    if (q >= 5 && text.compare(q - 5, 5, "(+47)") == 0) {
      prefix_group = kMaxGroups + 1;  // outside the chain
      prefix_start = q - 5;
    }
  }

  if (Enabled(FindingKind::kNationalId)) {
    for (size_t a = 0; a < ng; ++a) {
      size_t sum = 0;
      for (size_t b = a; b < ng; ++b) {
        sum += g[b].len();
        if (sum < 11) continue;
        if (sum > 11) break;
        // Bank account numbers are written 4.2.5.
        if (b == a + 2 && g[a].len() == 4 && g[a + 1].len() == 2) break;
        // Digits spelled out one by one, or groups of two or more; not a mix
        // ("telte 4 6 8 10 12 14 16").
        bool singles = false, multi = false;
        for (size_t c = a; c <= b; ++c) (g[c].len() == 1 ? singles : multi) = true;
        if (singles && multi) break;
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

  if (Enabled(FindingKind::kPhone)) {
    for (size_t a = 0; a < ng; ++a) {
      if (a == prefix_group) continue;
      const unsigned char first = text[g[a].start];
      if (first < '2' || first > '9') continue;
      size_t sum = 0;
      for (size_t b = a; b < ng && b < a + 4; ++b) {
        sum += g[b].len();
        if (sum < 8) continue;
        if (sum > 8) break;
        const bool prefixed = (prefix_group == kMaxGroups + 1 && a == 0) ||
                              (prefix_group < kMaxGroups && a == prefix_group + 1);
        if (prefixed) {
          out->push_back({FindingKind::kPhone, prefix_start, g[b].end});
        } else if (PhoneShapeOk(text, g, a, b)) {
          out->push_back({FindingKind::kPhone, g[a].start, g[b].end});
        }
        break;
      }
    }
  }

  if (Enabled(FindingKind::kBirthDate)) {
    for (size_t a = 0; a + 2 < ng; ++a) {
      const Group& d = g[a];
      const Group& m = g[a + 1];
      const Group& y = g[a + 2];
      const Sep s1 = m.sep_before, s2 = y.sep_before;
      if (s1 != s2 || s1 == Sep::kSpace || s1 == Sep::kNone) continue;
      int year, month, day;
      if (d.len() <= 2 && m.len() <= 2 && (y.len() == 2 || y.len() == 4)) {
        day = GroupValue(text, d);
        month = GroupValue(text, m);
        year = GroupValue(text, y);
        if (y.len() == 2) {
          year += 2000;
        } else if (year < 1900 || year > 2099) {
          continue;
        }
      } else if (d.len() == 4 && m.len() == 2 && y.len() == 2 && s1 == Sep::kDash) {
        year = GroupValue(text, d);
        month = GroupValue(text, m);
        day = GroupValue(text, y);
        if (year < 1900 || year > 2099) continue;
      } else {
        continue;
      }
      if (common::IsRealDate(year, month, day)) {
        out->push_back({FindingKind::kBirthDate, d.start, y.end});
      }
    }
    // "3. mars 2019"
    const Group& last = g[ng - 1];
    if (last.len() <= 2 && *chain_end == last.end) {
      const int day = GroupValue(text, last);
      re2::StringPiece sub[3];
      const size_t limit = std::min(n, last.end + 32);
      if (day >= 1 && day <= 31 &&
          month_date->Match(re2::StringPiece(text.data(), limit), last.end, limit,
                            RE2::ANCHOR_START, sub, 3)) {
        static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "mai", "jun",
                                                       "jul", "aug", "sep", "okt", "nov", "des"};
        std::string month_name(sub[1].data(), 3);
        for (char& ch : month_name) ch = static_cast<char>(ch | 0x20);
        int month = 0;
        for (int k = 0; k < 12; ++k) {
          if (kMonths[k] == month_name) month = k + 1;
        }
        int year = 0;
        for (char c : std::string_view(sub[2].data(), sub[2].size())) {
          year = year * 10 + (c - '0');
        }
        if (month > 0 && common::IsRealDate(year, month, day)) {
          const size_t end = sub[0].data() + sub[0].size() - text.data();
          out->push_back({FindingKind::kBirthDate, last.start, end});
        }
      }
    }
  }

  if (Enabled(FindingKind::kAddress) && ng == 1 && g[0].len() == 4 && !plus_before &&
      *chain_end + 2 < n && text[*chain_end] == ' ') {
    // Postal code + place name ("0150 Oslo", "9990 BÅTSFJORD").
    const size_t w = *chain_end + 1;
    const size_t we = WordEnd(text, w);
    if (we > w && (IsCapitalized(text, w, we) || IsAllCaps(text, w, we))) {
      const int code = GroupValue(text, g[0]);
      bool ok = code < 1900 || code > 2099;
      if (!ok) {  // could be a year: require ", " or a line start before it
        size_t q = p;
        while (q > 0 && text[q - 1] == ' ') --q;
        ok = q == 0 || text[q - 1] == ',' || text[q - 1] == '\n';
      }
      if (ok) out->push_back({FindingKind::kAddress, p, we});
    }
  }
}

void Scanner::Impl::ScanWord(std::string_view text, size_t start, size_t end,
                             std::vector<Candidate>* out, size_t* last_name) const {
  const size_t len = end - start;
  if (Enabled(FindingKind::kAddress) && len >= 3 && end + 1 < text.size() &&
      (text[end] == ' ' || static_cast<unsigned char>(text[end]) == 0xC2)) {
    const std::string_view word = text.substr(start, len);
    size_t street_start = std::string_view::npos;
    if (IsCapitalized(text, start, end)) {
      for (std::string_view suffix : kStreetSuffixes) {
        if (len > suffix.size() && word.substr(len - suffix.size()) == suffix) {
          street_start = start;
          break;
        }
      }
    } else if (IsAsciiLower(text[start])) {
      for (std::string_view w : kStreetWords) {
        if (word == w) {
          // "Kong Oscars gate 5": up to three capitalised words before it.
          size_t s = start, pe;
          for (int k = 0; k < 3; ++k) {
            const size_t ps = PrevWordStart(text, s, &pe);
            if (ps == std::string_view::npos || !IsCapitalized(text, ps, pe)) break;
            s = ps;
          }
          if (s != start) street_start = s;
          break;
        }
      }
    }
    if (street_start != std::string_view::npos) {
      const size_t limit = std::min(text.size(), end + 12);
      re2::StringPiece m;
      if (street_tail->Match(re2::StringPiece(text.data(), limit), end, limit, RE2::ANCHOR_START,
                             &m, 1)) {
        out->push_back({FindingKind::kAddress, street_start,
                        static_cast<size_t>(m.data() + m.size() - text.data())});
      }
    }
  }

  if (!Enabled(FindingKind::kName) || len < 2 || !IsCapitalized(text, start, end)) {
    return;
  }
  // Extend a name just found by a following capitalised word ("Ola Nordmann").
  if (*last_name != std::string_view::npos) {
    Candidate& prev = (*out)[*last_name];
    if (prev.kind == FindingKind::kName && prev.end + 1 == start && text[prev.end] == ' ') {
      prev.end = end;
      return;
    }
  }
  const std::string_view word = text.substr(start, len);
  bool is_name = false;
  auto it = names.find(word);
  if (it != names.end()) {
    is_name = !(it->second && IsSentenceInitial(text, start));
  }
  if (!is_name) {
    size_t pe;
    const size_t ps = PrevWordStart(text, start, &pe);
    if (ps != std::string_view::npos && pe - ps <= 24) {
      const std::string lower = LowerWord(text.substr(ps, pe - ps));
      is_name = cues.contains(std::string_view(lower));
    }
  }
  if (is_name) {
    *last_name = out->size();
    out->push_back({FindingKind::kName, start, end});
  }
}

std::vector<Finding> Scanner::Scan(std::string_view text) const {
  std::vector<Candidate> cands;
  const Impl& im = *impl_;
  if (im.Enabled(FindingKind::kEmail)) im.ScanEmails(text, &cands);

  const bool want_chains = im.Enabled(FindingKind::kNationalId) ||
                           im.Enabled(FindingKind::kPhone) || im.Enabled(FindingKind::kBirthDate) ||
                           im.Enabled(FindingKind::kAddress);
  const bool want_words = im.Enabled(FindingKind::kName) || im.Enabled(FindingKind::kAddress);
  const size_t n = text.size();
  size_t last_name = std::string_view::npos;
  size_t p = 0;
  while (p < n) {
    const unsigned char c = text[p];
    if (IsAsciiLower(c)) {  // fast path: lower-case words
      size_t e = WordEnd(text, p);
      if (want_words && e - p >= 3) im.ScanWord(text, p, e, &cands, &last_name);
      p = e;
    } else if (IsDigit(c)) {
      size_t e;
      if (want_chains) {
        im.ScanChain(text, p, &e, &cands);
      } else {
        e = p + 1;
        while (e < n && IsDigit(text[e])) ++e;
      }
      p = e;
    } else if (IsAsciiUpper(c) || (c >= 0x80 && LetterLen(text, p) > 0)) {
      size_t e = WordEnd(text, p);
      if (want_words) im.ScanWord(text, p, e, &cands, &last_name);
      p = e;
    } else {
      ++p;
    }
  }

  // Street address followed by its postal code: one finding.
  // Then resolve overlaps by priority (stronger kind, then earlier, longer).
  std::stable_sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
    const int pa = Priority(a.kind), pb = Priority(b.kind);
    if (pa != pb) return pa < pb;
    if (a.start != b.start) return a.start < b.start;
    return a.end > b.end;
  });
  std::map<size_t, size_t> accepted;  // start -> end
  std::vector<Candidate> kept;
  for (const Candidate& cand : cands) {
    auto next = accepted.lower_bound(cand.start);
    if (next != accepted.end() && next->first < cand.end) continue;
    if (next != accepted.begin() && std::prev(next)->second > cand.start) continue;
    accepted.emplace(cand.start, cand.end);
    kept.push_back(cand);
  }
  std::sort(kept.begin(), kept.end(),
            [](const Candidate& a, const Candidate& b) { return a.start < b.start; });
  // Merge "Storgata 12, 0150 Oslo" into one address.
  std::vector<Candidate> merged;
  for (const Candidate& cand : kept) {
    if (!merged.empty() && cand.kind == FindingKind::kAddress &&
        merged.back().kind == FindingKind::kAddress) {
      std::string_view gap = text.substr(merged.back().end, cand.start - merged.back().end);
      if (gap == " " || gap == ", " || gap == ",") {
        merged.back().end = cand.end;
        continue;
      }
    }
    merged.push_back(cand);
  }

  std::vector<Finding> findings;
  findings.reserve(merged.size());
  for (const Candidate& cand : merged) {
    Finding f;
    f.id = static_cast<int>(findings.size());
    f.kind = cand.kind;
    f.severity = im.severities.at(cand.kind);
    f.start = cand.start;
    f.end = cand.end;
    findings.push_back(f);
  }
  return findings;
}

}  // namespace budstikke::pii
