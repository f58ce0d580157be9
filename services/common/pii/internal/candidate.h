// What the scanner's rules produce: candidate spans, before overlaps between
// kinds are resolved (services/common/pii/scanner.cc), and the set of kinds a
// scan looks for. Internal to services/common/pii.
#ifndef BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_CANDIDATE_H_
#define BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_CANDIDATE_H_

#include <cstddef>

#include "services/common/pii/scanner.h"

namespace budstikke::pii::pii_internal {

struct Candidate {
  FindingKind kind;
  size_t start;  // byte offset
  size_t end;    // exclusive
};

// The kinds a scan reports; a rule whose kind is absent does not run.
class KindSet {
 public:
  void Add(FindingKind kind) { on_[static_cast<int>(kind)] = true; }
  bool Has(FindingKind kind) const { return on_[static_cast<int>(kind)]; }

 private:
  bool on_[6] = {false, false, false, false, false, false};
};

}  // namespace budstikke::pii::pii_internal

#endif  // BUDSTIKKE_SERVICES_COMMON_PII_INTERNAL_CANDIDATE_H_
