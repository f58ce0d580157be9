// IngestLedger: the receiving side of outbox delivery. For each source (the
// delivering process's outbox) it keeps the first sequence number not yet
// applied, in column family "ingest" of the receiver's store, so that
// at-least-once delivery has an exactly-once effect:
//
//   ledger.Apply("referral", last_sequence_in_request,
//                [&](uint64_t next, storage::WriteBatch batch) {
//                  for (entry : entries) if (entry.sequence >= next) add(&batch, entry);
//                  return store->Write(std::move(batch));  // entries + mark together
//                });
//
// Sources deliver in increasing order (OutboxSequence), so one mark per source
// suffices. Deliveries of one source are serialized; thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_OUTBOX_INGEST_LEDGER_H_
#define BUDSTIKKE_SERVICES_COMMON_OUTBOX_INGEST_LEDGER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "storage/store.h"

namespace budstikke::common {

inline constexpr char kIngestColumnFamily[] = "ingest";

class IngestLedger {
 public:
  // Adds the entries with sequence >= `next` to `batch` (which already holds
  // the new mark) and writes it atomically.
  using Write = std::function<absl::Status(uint64_t next, storage::WriteBatch batch)>;

  // `store` must have kIngestColumnFamily and outlive the ledger.
  explicit IngestLedger(storage::Store* store) : store_(store) {}

  // Under the source's lock: if `last_sequence` was already applied, returns
  // at once; otherwise calls `write` with a batch that moves the mark past
  // `last_sequence`. Returns the first sequence not yet applied afterwards.
  // INVALID_ARGUMENT for an empty or over-long (> 128 bytes) source name;
  // `write`'s error as it is.
  absl::StatusOr<uint64_t> Apply(absl::string_view source, uint64_t last_sequence,
                                 const Write& write);

 private:
  struct State {
    absl::Mutex mu;
    bool loaded ABSL_GUARDED_BY(mu) = false;
    uint64_t next ABSL_GUARDED_BY(mu) = 0;
  };
  State* StateOf(absl::string_view source);

  storage::Store* store_;
  absl::Mutex map_mu_;
  std::map<std::string, std::unique_ptr<State>, std::less<>> states_ ABSL_GUARDED_BY(map_mu_);
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_OUTBOX_INGEST_LEDGER_H_
