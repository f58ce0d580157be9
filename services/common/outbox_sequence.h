// OutboxSequence: the sequence numbers of one transactional outbox, and which
// of them may still appear in the store.
//
// A writer reserves a number when it adds an outbox entry to a WriteBatch; the
// number is "in flight" until the batch settles (written, failed or dropped:
// storage::WriteBatch::OnSettled). Every number below SettledBelow() is final:
// its entry is in the store or never will be. A drainer that delivers only
// entries below SettledBelow(), in order, therefore never delivers a number
// after a higher one, so receivers can deduplicate with a high-water mark per
// source (at-least-once delivery, exactly-once effect, order kept).
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_OUTBOX_SEQUENCE_H_
#define BUDSTIKKE_SERVICES_COMMON_OUTBOX_SEQUENCE_H_

#include <cstdint>

#include "absl/container/btree_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace budstikke::common {

class OutboxSequence {
 public:
  // `next`: the first number to hand out (past every number ever used).
  explicit OutboxSequence(uint64_t next) : next_(next) {}

  // A fresh number, in flight until `batch` settles.
  uint64_t Reserve(storage::WriteBatch* batch);
  // A fresh number for a write outside a batch: call Settle() after it.
  uint64_t ReserveUnbatched();
  void Settle(uint64_t number);

  // Every number below this one is final.
  uint64_t SettledBelow() const;
  // Blocks until SettledBelow() > `seen` or `timeout` passes; returns
  // SettledBelow(). (A drainer sleeps here instead of polling the store.)
  uint64_t AwaitSettledBeyond(uint64_t seen, absl::Duration timeout) const;
  // The next number to be handed out.
  uint64_t next() const;

 private:
  uint64_t SettledBelowLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_);
  absl::btree_set<uint64_t> in_flight_ ABSL_GUARDED_BY(mu_);
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_OUTBOX_SEQUENCE_H_
