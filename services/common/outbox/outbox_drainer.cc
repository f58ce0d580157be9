#include "services/common/outbox/outbox_drainer.h"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "services/common/store_audit_outbox.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::common {

OutboxDrainer::OutboxDrainer(storage::Store* store, std::string column_family,
                             const OutboxSequence* sequence, Deliver deliver, const Clock* clock,
                             OutboxDrainerOptions options)
    : store_(store),
      cf_(std::move(column_family)),
      sequence_(sequence),
      deliver_(std::move(deliver)),
      clock_(clock),
      options_(options) {}

OutboxDrainer::~OutboxDrainer() { Stop(); }

void OutboxDrainer::Start() {
  stop_.store(false);
  thread_ = std::thread([this] { Run(); });
}

void OutboxDrainer::Stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<std::vector<OutboxEntry>> OutboxDrainer::ReadBatch(uint64_t below) const {
  std::vector<OutboxEntry> entries;
  std::unique_ptr<storage::Iterator> it =
      store_->ScanFrom(cf_, storage::BigEndian64(next_undelivered_.load()));
  for (; it->Valid() && static_cast<int>(entries.size()) < options_.max_batch; it->Next()) {
    if (it->key().size() != 8) continue;  // kOutboxDeliveredKey
    const uint64_t sequence = storage::LoadBigEndian64(it->key());
    if (sequence >= below) break;
    entries.push_back({sequence, std::string(it->value())});
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return entries;
}

absl::StatusOr<int> OutboxDrainer::DrainOnce() {
  if (!loaded_) {
    // Start past what an earlier run delivered (skips its delete tombstones).
    absl::StatusOr<std::string> mark = store_->Get(cf_, kOutboxDeliveredKey);
    if (mark.ok() && mark->size() == 8)
      next_undelivered_.store(storage::LoadBigEndian64(*mark) + 1);
    if (!mark.ok() && !absl::IsNotFound(mark.status())) return mark.status();
    loaded_ = true;
  }
  const uint64_t below = sequence_->SettledBelow();
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<OutboxEntry> entries, ReadBatch(below));
  if (entries.empty()) {
    // Every number below `below` is final and none is left: failed writes.
    next_undelivered_.store(std::max(next_undelivered_.load(), below));
    absl::MutexLock lock(&mu_);
    oldest_seen_sequence_ = UINT64_MAX;
    return 0;
  }
  {
    absl::MutexLock lock(&mu_);
    if (oldest_seen_sequence_ != entries.front().sequence) {
      oldest_seen_sequence_ = entries.front().sequence;
      oldest_seen_at_ = clock_->Now();
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(deliver_(entries));
  storage::WriteBatch batch;
  for (const OutboxEntry& e : entries) batch.Delete(cf_, storage::BigEndian64(e.sequence));
  batch.Put(cf_, kOutboxDeliveredKey, storage::BigEndian64(entries.back().sequence));
  // If this write fails the entries are delivered again: the receiver
  // deduplicates them.
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  next_undelivered_.store(entries.back().sequence + 1);
  {
    absl::MutexLock lock(&mu_);
    oldest_seen_sequence_ = UINT64_MAX;
  }
  return static_cast<int>(entries.size());
}

uint64_t OutboxDrainer::backlog() const {
  const uint64_t next = sequence_->next();
  const uint64_t delivered = next_undelivered_.load();
  return next > delivered ? next - delivered : 0;
}

absl::Duration OutboxDrainer::oldest_age() const {
  absl::MutexLock lock(&mu_);
  if (oldest_seen_sequence_ == UINT64_MAX) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), clock_->Now() - oldest_seen_at_);
}

void OutboxDrainer::UpdateHealth() {
  const bool healthy = oldest_age() <= options_.max_age;
  {
    absl::MutexLock lock(&mu_);
    if (healthy == healthy_) return;
    healthy_ = healthy;
  }
  if (!healthy) {
    spdlog::warn("outbox {}: oldest undelivered entry older than {}", cf_,
                 absl::FormatDuration(options_.max_age));
  }
  if (on_health_) on_health_(healthy);
}

void OutboxDrainer::Run() {
  absl::Duration backoff = options_.initial_backoff;
  while (!stop_.load()) {
    absl::StatusOr<int> delivered = DrainOnce();
    UpdateHealth();
    absl::Duration wait = absl::ZeroDuration();
    if (!delivered.ok()) {
      spdlog::warn("outbox {}: delivery failed ({}); retrying in {}", cf_,
                   delivered.status().ToString(), absl::FormatDuration(backoff));
      wait = backoff;
      backoff = std::min(backoff * 2, options_.max_backoff);
    } else {
      backoff = options_.initial_backoff;
      if (*delivered == 0) {
        // Nothing to deliver: sleep until a write settles a new entry (or
        // the idle interval passes), instead of scanning the store again.
        const uint64_t seen = next_undelivered_.load();
        if (sequence_->AwaitSettledBeyond(seen, options_.idle_wait) > seen) {
          // Let concurrent writes join this delivery: one call for many.
          absl::SleepFor(options_.batch_window);
        } else if (sequence_->next() > seen) {
          // A number stayed in flight for a whole idle wait: a write made
          // with storage::Store::Sync::kDeferred settles only when a sync
          // covers it, and its own SyncWal may have failed. Sync now (it
          // retries RocksDB's recovery first) rather than stall the outbox.
          (void)store_->SyncWal();
        }
        continue;
      }
    }
    // Back off in short slices so Stop() is prompt.
    for (absl::Time until = absl::Now() + wait; !stop_.load() && absl::Now() < until;) {
      absl::SleepFor(std::min(until - absl::Now(), absl::Milliseconds(5)));
    }
  }
}

}  // namespace budstikke::common
