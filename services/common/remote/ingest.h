// Receiving outbox deliveries (microservices mode): the checks every ingest
// RPC makes before its ledger applies the entries (ingest_ledger.h).
#ifndef BUDSTIKKE_SERVICES_COMMON_REMOTE_INGEST_H_
#define BUDSTIKKE_SERVICES_COMMON_REMOTE_INGEST_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace budstikke::common {

// Entries must have strictly increasing sequences (one source's order), at
// most 10,000 per request. INVALID_ARGUMENT otherwise.
template <typename Entry>
absl::Status CheckIngestEntries(const google::protobuf::RepeatedPtrField<Entry>& entries) {
  if (entries.size() > 10000) {
    return absl::InvalidArgumentError("at most 10000 entries per delivery");
  }
  for (int i = 1; i < entries.size(); ++i) {
    if (entries[i].sequence() <= entries[i - 1].sequence()) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry ", i, ": sequences must increase within a delivery"));
    }
  }
  return absl::OkStatus();
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_REMOTE_INGEST_H_
