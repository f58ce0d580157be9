#include "services/common/store_audit_outbox.h"

#include "services/common/audit_event.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::common {

std::string StoreAuditOutbox::KeyFor(uint64_t sequence) { return storage::BigEndian64(sequence); }

absl::StatusOr<uint64_t> NextOutboxSequence(storage::Store* store, std::string_view cf) {
  uint64_t next = 0;
  std::unique_ptr<storage::Iterator> it = store->Scan(cf, "");
  for (; it->Valid(); it->Next()) {
    std::string_view k = it->key();
    if (k == kOutboxDeliveredKey && it->value().size() == 8) {
      next = std::max(next, storage::LoadBigEndian64(it->value()) + 1);
    }
    if (k.size() != 8) continue;
    next = std::max(next, storage::LoadBigEndian64(k) + 1);
  }
  if (!it->status().ok()) return it->status();
  return next;
}

absl::StatusOr<std::unique_ptr<StoreAuditOutbox>> StoreAuditOutbox::Create(storage::Store* store,
                                                                           const Clock* clock) {
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t next, NextOutboxSequence(store, kAuditOutboxColumnFamily));
  return std::unique_ptr<StoreAuditOutbox>(new StoreAuditOutbox(store, clock, next));
}

absl::Status StoreAuditOutbox::Add(storage::WriteBatch* batch, const Caller& caller,
                                   v1::AuditEvent event) {
  StampRecorded(caller, clock_->Now(), &event);
  AddFilled(batch, event);
  return absl::OkStatus();
}

void StoreAuditOutbox::AddFilled(storage::WriteBatch* batch, const v1::AuditEvent& event) {
  batch->Put(kAuditOutboxColumnFamily, KeyFor(sequence_.Reserve(batch)), event.SerializeAsString());
}

absl::Status StoreAuditOutbox::RecordEvent(const Caller& caller, v1::AuditEvent event) {
  StampRecorded(caller, clock_->Now(), &event);
  const uint64_t sequence = sequence_.ReserveUnbatched();
  absl::Status s =
      store_->Put(kAuditOutboxColumnFamily, KeyFor(sequence), event.SerializeAsString());
  sequence_.Settle(sequence);
  if (!s.ok()) {
    ReportHealth(false);
    return s;
  }
  ReportHealth(true);
  return absl::OkStatus();
}

void StoreAuditOutbox::ReportHealth(bool healthy) {
  int now = healthy ? 1 : 0;
  if (healthy_.exchange(now) != now && observer_) observer_(healthy);
}

}  // namespace budstikke::common
