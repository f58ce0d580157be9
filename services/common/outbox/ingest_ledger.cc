#include "services/common/outbox/ingest_ledger.h"

#include "absl/strings/str_cat.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::common {

IngestLedger::State* IngestLedger::StateOf(absl::string_view source) {
  absl::MutexLock lock(&map_mu_);
  auto it = states_.find(source);
  if (it == states_.end()) {
    it = states_.emplace(std::string(source), std::make_unique<State>()).first;
  }
  return it->second.get();
}

absl::StatusOr<uint64_t> IngestLedger::Apply(absl::string_view source, uint64_t last_sequence,
                                             const Write& write) {
  if (source.empty() || source.size() > 128) {
    return absl::InvalidArgumentError("source must be 1..128 bytes");
  }
  State* state = StateOf(source);
  absl::MutexLock lock(&state->mu);
  if (!state->loaded) {
    absl::StatusOr<std::string> stored =
        store_->Get(kIngestColumnFamily, std::string_view(source.data(), source.size()));
    if (stored.ok()) {
      if (stored->size() != 8) {
        return absl::DataLossError(absl::StrCat("ingest mark of source '", source, "' is corrupt"));
      }
      state->next = storage::LoadBigEndian64(*stored);
    } else if (!absl::IsNotFound(stored.status())) {
      return stored.status();
    }
    state->loaded = true;
  }
  if (last_sequence < state->next) return state->next;
  storage::WriteBatch batch;
  batch.Put(kIngestColumnFamily, std::string_view(source.data(), source.size()),
            storage::BigEndian64(last_sequence + 1));
  if (absl::Status written = write(state->next, std::move(batch)); !written.ok()) {
    // The write may have been applied although it failed (a durable write
    // whose fsync failed: storage::Store::Sync::kDeferred), mark included:
    // read the mark again before the retry, so it is not applied twice.
    state->loaded = false;
    return written;
  }
  state->next = last_sequence + 1;
  return state->next;
}

}  // namespace budstikke::common
