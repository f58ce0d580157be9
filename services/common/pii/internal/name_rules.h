// Likely names (NAME, WARN by default), one capitalised word at a time:
//  - a word on the name list, also in the genitive ("Emmas", "Emma's",
//    "Jonas'"; the span covers the genitive ending). A listed name that is
//    also an ordinary word ("Dag", "Per", "Liv") counts at a sentence start
//    only when a verb follows ("Per har", not "Dag for dag");
//  - a capitalised word right after a cue word ("gutten Zyxtor", "lille
//    Hawa", "mor Kari");
//  - an unlisted capitalised word in a subject's place (a sentence start, or
//    after "og", "at", "fordi", ...) followed by a finite verb ("Hawa gråter",
//    "fordi Dawit ikke vil"), unless it is an ordinary word: pronouns,
//    adverbs, days, common nouns, places (word_lists.h), or a word with a
//    noun or adjective ending ("Barnet", "Situasjonen", "Mobbing");
//  - a capitalised word right after a name just found ("Ola Nordmann", one
//    span).
//
// Name list format: one entry per line, "first|last <Name> [common]", '#'
// starts a comment line.
//
// Internal to services/common/pii. Immutable after Create(); Find() is const
// and thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_NAME_RULES_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_NAME_RULES_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/common/pii/internal/candidate.h"

namespace budstikke::pii::pii_internal {

// The list embedded at build time (names_embedded.cc, from names_no.txt).
extern const std::string_view kEmbeddedNames;

// Parses a name list into name -> "also an ordinary word". The keys point
// into `data`, which must outlive the map. INVALID_ARGUMENT names the line.
absl::Status LoadNames(std::string_view data, absl::flat_hash_map<std::string_view, bool>* names);

class NameRules {
 public:
  // `names_path` empty: the embedded list. NOT_FOUND if the file cannot be
  // read; INVALID_ARGUMENT for a malformed line.
  static absl::StatusOr<std::unique_ptr<NameRules>> Create(const std::string& names_path);

  // Looks at the word [start, end) (called for words in text order).
  // `*last_name` is the index in `*out` of the last NAME candidate (npos
  // before the first); a following capitalised word extends it.
  void Find(std::string_view text, size_t start, size_t end, std::vector<Candidate>* out,
            size_t* last_name) const;

 private:
  enum class ListHit { kNone, kName, kOrdinaryWord };

  NameRules() = default;
  bool IsNameWord(std::string_view text, size_t start, size_t end) const;
  ListHit Lookup(std::string_view word) const;
  bool AfterCue(std::string_view text, size_t start) const;
  bool InSubjectPosition(std::string_view text, size_t start) const;
  bool FollowedByVerb(std::string_view text, size_t end) const;
  bool IsOrdinaryWord(std::string_view word) const;

  std::string storage_;                                // backs names_ when loaded from a file
  absl::flat_hash_map<std::string_view, bool> names_;  // name -> also an ordinary word
  absl::flat_hash_set<std::string_view> cues_;
  absl::flat_hash_set<std::string_view> verbs_;
  absl::flat_hash_set<std::string_view> adverbs_;
  absl::flat_hash_set<std::string_view> conjunctions_;
  absl::flat_hash_set<std::string_view> ordinary_;
};

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_NAME_RULES_H_
