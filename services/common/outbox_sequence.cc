#include "services/common/outbox_sequence.h"

namespace budstikke::common {

uint64_t OutboxSequence::ReserveUnbatched() {
  absl::MutexLock lock(&mu_);
  const uint64_t number = next_++;
  in_flight_.insert(number);
  return number;
}

uint64_t OutboxSequence::Reserve(storage::WriteBatch* batch) {
  const uint64_t number = ReserveUnbatched();
  batch->OnSettled([this, number](bool) { Settle(number); });
  return number;
}

void OutboxSequence::Settle(uint64_t number) {
  absl::MutexLock lock(&mu_);
  in_flight_.erase(number);
}

uint64_t OutboxSequence::SettledBelow() const {
  absl::MutexLock lock(&mu_);
  return SettledBelowLocked();
}

uint64_t OutboxSequence::SettledBelowLocked() const {
  return in_flight_.empty() ? next_ : *in_flight_.begin();
}

uint64_t OutboxSequence::AwaitSettledBeyond(uint64_t seen, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto beyond = [this, seen]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return SettledBelowLocked() > seen; };
  mu_.AwaitWithTimeout(absl::Condition(&beyond), timeout);
  return SettledBelowLocked();
}

uint64_t OutboxSequence::next() const {
  absl::MutexLock lock(&mu_);
  return next_;
}

}  // namespace budstikke::common
