#include "services/common/pii/internal/name_rules.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/pii/internal/text.h"
#include "services/common/pii/internal/word_lists.h"

namespace budstikke::pii::pii_internal {
namespace {

// "Jonas' far", "Emma’s": where a name ending at `end` ends with its
// genitive apostrophe (after s, x, z) or apostrophe + s.
size_t GenitiveEnd(std::string_view text, size_t end) {
  const size_t n = text.size();
  size_t q;
  if (end < n && text[end] == '\'') {
    q = end + 1;
  } else if (text.compare(end, 3, "\xE2\x80\x99") == 0) {  // ’
    q = end + 3;
  } else {
    return end;
  }
  auto ends_word = [&](size_t p) {
    return p >= n || (LetterLen(text, p) == 0 && !IsDigit(text[p]));
  };
  if (q < n && text[q] == 's' && ends_word(q + 1)) return q + 1;
  const char last = text[end - 1];
  if ((last == 's' || last == 'x' || last == 'z') && ends_word(q)) return q;
  return end;
}

void AddAll(absl::Span<const std::string_view> words, absl::flat_hash_set<std::string_view>* set) {
  for (std::string_view w : words) set->insert(w);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read name list ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

absl::Status LoadNames(std::string_view data, absl::flat_hash_map<std::string_view, bool>* names) {
  // Debian's Abseil has its own string_view; the keys must be std ones.
  auto sv = [](absl::string_view s) { return std::string_view(s.data(), s.size()); };
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(absl::string_view(data.data(), data.size()), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() < 2 || parts.size() > 3 || (parts[0] != "first" && parts[0] != "last") ||
        (parts.size() == 3 && parts[2] != "common")) {
      return absl::InvalidArgumentError(
          absl::StrCat("name list line ", line_no, ": expected \"first|last <Name> [common]\""));
    }
    const bool common = parts.size() == 3;
    auto [it, inserted] = names->emplace(sv(parts[1]), common);
    if (!inserted) it->second = it->second || common;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<NameRules>> NameRules::Create(const std::string& names_path) {
  std::unique_ptr<NameRules> rules(new NameRules());
  std::string_view data = kEmbeddedNames;
  if (!names_path.empty()) {
    absl::StatusOr<std::string> file = ReadFile(names_path);
    if (!file.ok()) return file.status();
    rules->storage_ = *std::move(file);
    data = rules->storage_;
  }
  absl::Status st = LoadNames(data, &rules->names_);
  if (!st.ok()) return st;
  AddAll(CueWords(), &rules->cues_);
  AddAll(SubjectVerbs(), &rules->verbs_);
  AddAll(ClauseAdverbs(), &rules->adverbs_);
  AddAll(Conjunctions(), &rules->conjunctions_);
  AddAll(OrdinarySubjects(), &rules->ordinary_);
  return rules;
}

NameRules::ListHit NameRules::Lookup(std::string_view word) const {
  auto it = names_.find(word);
  if (it == names_.end()) {
    // Genitive: "Emmas", "Emma's".
    std::string_view stem;
    if (word.size() > 3 && word.substr(word.size() - 2) == "'s") {
      stem = word.substr(0, word.size() - 2);
    } else if (word.size() >= 3 && word.back() == 's') {
      stem = word.substr(0, word.size() - 1);
    } else {
      return ListHit::kNone;
    }
    it = names_.find(stem);
    if (it == names_.end()) return ListHit::kNone;
  }
  return it->second ? ListHit::kOrdinaryWord : ListHit::kName;
}

bool NameRules::AfterCue(std::string_view text, size_t start) const {
  size_t pe;
  const size_t ps = PrevWordStart(text, start, &pe);
  if (ps == std::string_view::npos || pe - ps > 24) return false;
  const std::string lower = LowerWord(text.substr(ps, pe - ps));
  return cues_.contains(std::string_view(lower));
}

bool NameRules::InSubjectPosition(std::string_view text, size_t start) const {
  if (IsSentenceInitial(text, start)) return true;
  size_t pe;
  const size_t ps = PrevWordStart(text, start, &pe);
  if (ps == std::string_view::npos || pe - ps > 8) return false;
  const std::string lower = LowerWord(text.substr(ps, pe - ps));
  return conjunctions_.contains(std::string_view(lower));
}

// A finite verb follows the word ending at `end`, directly, after a clause
// adverb ("Hawa ikke vil") or after "og" and a capitalised word ("Tenzin og
// Hawa leker").
bool NameRules::FollowedByVerb(std::string_view text, size_t end) const {
  bool after_og = false;
  for (int hop = 0; hop < 3; ++hop) {
    if (end + 1 >= text.size() || text[end] != ' ') return false;
    const size_t w = end + 1;
    end = WordEnd(text, w);
    const std::string_view next = text.substr(w, end - w);
    if (after_og) {
      if (!IsCapitalized(text, w, end)) return false;
      after_og = false;
    } else if (verbs_.contains(next)) {
      return true;
    } else if (next == "og") {
      after_og = true;
    } else if (!adverbs_.contains(next)) {
      return false;
    }
  }
  return false;
}

bool NameRules::IsOrdinaryWord(std::string_view word) const {
  const std::string lower = LowerWord(word);
  if (ordinary_.contains(std::string_view(lower))) return true;
  for (std::string_view ending : OrdinaryEndings()) {
    if (lower.size() >= ending.size() + 3 &&
        std::string_view(lower).substr(lower.size() - ending.size()) == ending) {
      return true;
    }
  }
  return false;
}

bool NameRules::IsNameWord(std::string_view text, size_t start, size_t end) const {
  const std::string_view word = text.substr(start, end - start);
  switch (Lookup(word)) {
    case ListHit::kName:
      return true;
    case ListHit::kOrdinaryWord:
      if (!IsSentenceInitial(text, start) || FollowedByVerb(text, end)) return true;
      break;
    case ListHit::kNone:
      if (end - start >= 3 && FollowedByVerb(text, end) && InSubjectPosition(text, start) &&
          !IsOrdinaryWord(word)) {
        return true;
      }
      break;
  }
  return AfterCue(text, start);
}

void NameRules::Find(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out,
                     size_t* last_name) const {
  if (end - start < 2 || !IsCapitalized(text, start, end)) return;
  // Extend a name just found by a following capitalised word ("Ola Nordmann").
  if (*last_name != std::string_view::npos) {
    Candidate& prev = (*out)[*last_name];
    if (prev.kind == FindingKind::kName && prev.end + 1 == start && text[prev.end] == ' ') {
      prev.end = end;
      return;
    }
  }
  if (IsNameWord(text, start, end)) {
    *last_name = out->size();
    out->push_back({FindingKind::kName, start, GenitiveEnd(text, end)});
  }
}

}  // namespace budstikke::pii::pii_internal
