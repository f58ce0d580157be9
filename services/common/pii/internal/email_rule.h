// E-mail addresses (REFUSE by default): local@domain.tld with an alphabetic
// top-level domain of two or more letters; "mor@", "@mention" and
// "ola@localhost" are not addresses. Found with memchr for '@'.
//
// Internal to services/common/pii. Pure function, thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_EMAIL_RULE_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_EMAIL_RULE_H_

#include <string_view>
#include <vector>

#include "services/common/pii/internal/candidate.h"

namespace budstikke::pii::pii_internal {

void FindEmails(std::string_view text, std::vector<Candidate>* out);

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_EMAIL_RULE_H_
