// Receiving outbox deliveries (microservices mode): the checks every ingest
// RPC makes, and the one way both ingest RPCs apply a delivery.
#ifndef BUDSTIKKE_SERVICES_COMMON_REMOTE_INGEST_H_
#define BUDSTIKKE_SERVICES_COMMON_REMOTE_INGEST_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "services/common/outbox/ingest_ledger.h"

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

// One delivery of `source`'s `entries` through `ledger` (ingest_ledger.h):
// checks them (CheckIngestEntries), then calls `write(first_new, batch)` unless
// everything was applied before. Returns the source's high-water mark after
// it (0 for an empty delivery).
template <typename Entry>
absl::StatusOr<uint64_t> ApplyDelivery(IngestLedger& ledger, const std::string& source,
                                       const google::protobuf::RepeatedPtrField<Entry>& entries,
                                       const IngestLedger::Write& write) {
  absl::Status checked = CheckIngestEntries(entries);
  if (!checked.ok()) return checked;
  if (entries.empty()) return 0;
  absl::StatusOr<uint64_t> next = ledger.Apply(source, entries.rbegin()->sequence(), write);
  if (!next.ok()) return next.status();
  return *next - 1;
}

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_REMOTE_INGEST_H_
