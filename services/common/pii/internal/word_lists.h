// Norwegian (bokmål and common nynorsk/dialect forms) word lists behind the
// name rules, all lower-case UTF-8. Internal to services/common/pii; the
// lists are constant.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_WORD_LISTS_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_WORD_LISTS_H_

#include <string_view>

#include "absl/types/span.h"

namespace budstikke::pii::pii_internal {

// Words after which a capitalised word is a name ("gutten Zyxtor", "lille
// Hawa", "mor Kari").
absl::Span<const std::string_view> CueWords();

// Finite verbs that follow a sentence's subject ("Hawa gråter", "Per har").
absl::Span<const std::string_view> SubjectVerbs();

// Adverbs that may stand between the subject and the verb of a subordinate
// clause ("fordi Hawa ikke vil").
absl::Span<const std::string_view> ClauseAdverbs();

// Conjunctions after which a clause's subject comes ("og Dawit sier").
absl::Span<const std::string_view> Conjunctions();

// Capitalised at a sentence start and followed by a verb, yet not names:
// pronouns, adverbs, days and months, common nouns, place and app names.
absl::Span<const std::string_view> OrdinarySubjects();

// Endings of nouns and adjectives (definite forms "-en", "-et", "-ene";
// "-ing", "-het", "-lig", ...): an unlisted word with one is not taken for a
// name by the subject rule.
absl::Span<const std::string_view> OrdinaryEndings();

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_WORD_LISTS_H_
