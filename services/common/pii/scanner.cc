// The scanner: one byte pass over the text hands digit runs and words to the
// rules in internal/, then resolves overlaps between kinds and joins a street
// address with its postal code.
#include "services/common/pii/scanner.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "services/common/pii/internal/address_rules.h"
#include "services/common/pii/internal/candidate.h"
#include "services/common/pii/internal/date_rules.h"
#include "services/common/pii/internal/digit_run.h"
#include "services/common/pii/internal/email_rule.h"
#include "services/common/pii/internal/name_rules.h"
#include "services/common/pii/internal/number_rules.h"
#include "services/common/pii/internal/text.h"

namespace budstikke::pii {

using pii_internal::Candidate;

namespace {

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

// Keeps the candidates that do not overlap a stronger (or, of one kind, an
// earlier or longer) one, sorted by start.
std::vector<Candidate> ResolveOverlaps(std::vector<Candidate> cands) {
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
  return kept;
}

// Joins "Storgata 12, 0150 Oslo" into one address.
std::vector<Candidate> MergeAddresses(std::string_view text, const std::vector<Candidate>& kept) {
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
  return merged;
}

}  // namespace

struct Scanner::Impl {
  std::map<FindingKind, Severity> severities;
  pii_internal::KindSet kinds;
  bool allow_synthetic = true;
  std::unique_ptr<pii_internal::NameRules> names;  // null when NAME is not scanned
  std::unique_ptr<pii_internal::DateRules> dates;

  // Runs the digit-run rules on the run at p; returns where the run ends.
  size_t ScanDigitRun(std::string_view text, size_t p, std::vector<Candidate>* out) const;
  // Runs the word rules on [start, end).
  void ScanWord(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out,
                size_t* last_name) const;
  std::vector<Candidate> Candidates(std::string_view text) const;
};

size_t Scanner::Impl::ScanDigitRun(std::string_view text, size_t p,
                                   std::vector<Candidate>* out) const {
  pii_internal::DigitRun run;
  pii_internal::ReadDigitRun(text, p, &run);
  if (kinds.Has(FindingKind::kNationalId)) {
    pii_internal::FindNationalIds(text, run, allow_synthetic, out);
  }
  if (kinds.Has(FindingKind::kPhone)) pii_internal::FindPhones(text, run, out);
  if (kinds.Has(FindingKind::kBirthDate)) dates->Find(text, run, out);
  if (kinds.Has(FindingKind::kAddress)) pii_internal::FindPostalCode(text, run, out);
  return run.end;
}

void Scanner::Impl::ScanWord(std::string_view text, size_t start, size_t end,
                             std::vector<Candidate>* out, size_t* last_name) const {
  if (kinds.Has(FindingKind::kAddress)) pii_internal::FindStreet(text, start, end, out);
  if (names != nullptr) names->Find(text, start, end, out, last_name);
}

std::vector<Candidate> Scanner::Impl::Candidates(std::string_view text) const {
  using pii_internal::IsAsciiLower;
  using pii_internal::IsDigit;
  std::vector<Candidate> cands;
  if (kinds.Has(FindingKind::kEmail)) pii_internal::FindEmails(text, &cands);
  const bool want_runs = kinds.Has(FindingKind::kNationalId) || kinds.Has(FindingKind::kPhone) ||
                         kinds.Has(FindingKind::kBirthDate) || kinds.Has(FindingKind::kAddress);
  const bool want_words = kinds.Has(FindingKind::kName) || kinds.Has(FindingKind::kAddress);
  const size_t n = text.size();
  size_t last_name = std::string_view::npos;
  size_t p = 0;
  while (p < n) {
    const unsigned char c = text[p];
    if (IsAsciiLower(c)) {  // fast path: lower-case words
      const size_t e = pii_internal::WordEnd(text, p);
      // Short words matter only as street abbreviations ("gt. 5").
      if (want_words && (e - p >= 3 || (e < n && text[e] == '.'))) {
        ScanWord(text, p, e, &cands, &last_name);
      }
      p = e;
    } else if (IsDigit(c)) {
      if (want_runs) {
        p = ScanDigitRun(text, p, &cands);
      } else {
        while (p < n && IsDigit(text[p])) ++p;
      }
    } else if (pii_internal::IsAsciiUpper(c) || (c >= 0x80 && pii_internal::LetterLen(text, p))) {
      const size_t e = pii_internal::WordEnd(text, p);
      if (want_words) ScanWord(text, p, e, &cands, &last_name);
      p = e;
    } else {
      ++p;
    }
  }
  return cands;
}

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
  for (const auto& [kind, severity] : impl->severities) impl->kinds.Add(kind);
  impl->allow_synthetic = config.allow_synthetic;
  if (impl->kinds.Has(FindingKind::kName)) {
    auto names = pii_internal::NameRules::Create(config.names_path);
    if (!names.ok()) return names.status();
    impl->names = *std::move(names);
  }
  auto dates = pii_internal::DateRules::Create();
  if (!dates.ok()) return dates.status();
  impl->dates = *std::move(dates);
  return std::unique_ptr<Scanner>(new Scanner(std::move(impl)));
}

std::vector<Finding> Scanner::Scan(std::string_view text) const {
  const std::vector<Candidate> merged =
      MergeAddresses(text, ResolveOverlaps(impl_->Candidates(text)));
  std::vector<Finding> findings;
  findings.reserve(merged.size());
  for (const Candidate& cand : merged) {
    Finding f;
    f.id = static_cast<int>(findings.size());
    f.kind = cand.kind;
    f.severity = impl_->severities.at(cand.kind);
    f.start = cand.start;
    f.end = cand.end;
    findings.push_back(f);
  }
  return findings;
}

}  // namespace budstikke::pii
