// OutboxDrainer: delivers one transactional outbox (a column family of 8-byte
// big-endian sequence keys, see outbox_sequence.h) to its receiver in another
// process, in sequence order, and deletes what was delivered.
//
// Each round reads up to `max_batch` entries below OutboxSequence::
// SettledBelow() (so no lower number can appear later), calls `deliver` with
// them, and on success deletes them and stores the delivered high-water mark
// (kOutboxDeliveredKey) in one write. On failure it retries the same entries
// with exponential backoff (initial_backoff doubling up to max_backoff): the
// receiver deduplicates by (source, sequence) (ingest_ledger.h), so a
// delivery that succeeded but whose answer was lost has no second effect.
//
// Observability: backlog() (entries reserved and not yet delivered, counted
// by sequence numbers, so a failed write's number counts until passed) and
// oldest_age() (how long the oldest undelivered entry has waited, as seen by
// the drainer); `on_health(false)` when oldest_age() exceeds `max_age`,
// `on_health(true)` when it is back under (changes only).
//
// Background work on one thread between Start() and Stop() (or destruction),
// woken by the outbox's writes (OutboxSequence::AwaitSettledBeyond);
// DrainOnce() may be called directly instead (tests).
#ifndef BUDSTIKKE_SERVICES_COMMON_OUTBOX_OUTBOX_DRAINER_H_
#define BUDSTIKKE_SERVICES_COMMON_OUTBOX_OUTBOX_DRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/clock.h"
#include "services/common/outbox_sequence.h"
#include "storage/store.h"

namespace budstikke::common {

struct OutboxEntry {
  uint64_t sequence = 0;
  std::string value;
};

struct OutboxDrainerOptions {
  int max_batch = 512;
  // With nothing to deliver the drainer sleeps until a write settles a new
  // entry, at most this long (it also bounds how late Stop() is seen).
  absl::Duration idle_wait = absl::Milliseconds(100);
  // After waking, how long to let more writes arrive before delivering
  // (one delivery call carries them all; the cost of a call dominates).
  absl::Duration batch_window = absl::Milliseconds(5);
  absl::Duration initial_backoff = absl::Milliseconds(50);
  absl::Duration max_backoff = absl::Seconds(5);
  // Readiness: unhealthy while the oldest undelivered entry is older.
  absl::Duration max_age = absl::Seconds(60);
};

class OutboxDrainer {
 public:
  using Deliver = std::function<absl::Status(const std::vector<OutboxEntry>& entries)>;

  // `store`, `sequence` and `clock` must outlive the drainer.
  OutboxDrainer(storage::Store* store, std::string column_family, const OutboxSequence* sequence,
                Deliver deliver, const Clock* clock, OutboxDrainerOptions options = {});
  ~OutboxDrainer();

  void SetHealthObserver(std::function<void(bool healthy)> observer) {
    on_health_ = std::move(observer);
  }
  void Start();
  void Stop();

  // Delivers one batch; returns how many entries were delivered.
  absl::StatusOr<int> DrainOnce();

  uint64_t backlog() const;
  absl::Duration oldest_age() const;
  const std::string& column_family() const { return cf_; }

 private:
  absl::StatusOr<std::vector<OutboxEntry>> ReadBatch(uint64_t below) const;
  void Run();
  void UpdateHealth();

  storage::Store* const store_;
  const std::string cf_;
  const OutboxSequence* const sequence_;
  const Deliver deliver_;
  const Clock* const clock_;
  const OutboxDrainerOptions options_;
  std::function<void(bool)> on_health_;

  bool loaded_ = false;  // drain thread only
  std::atomic<uint64_t> next_undelivered_{0};
  // When the drainer first saw the current oldest undelivered entry.
  mutable absl::Mutex mu_;
  uint64_t oldest_seen_sequence_ ABSL_GUARDED_BY(mu_) = UINT64_MAX;
  absl::Time oldest_seen_at_ ABSL_GUARDED_BY(mu_);
  bool healthy_ ABSL_GUARDED_BY(mu_) = true;

  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_OUTBOX_OUTBOX_DRAINER_H_
