// StoreAuditOutbox: the AuditOutbox of one process, writing events into the
// store's "audit_outbox" column family; the audit service drains that column
// family into the Merkle log.
//
// Keys: 8-byte big-endian sequence number, increasing within the process
// (initialized past the largest key present at start and past the delivered
// high-water mark kOutboxDeliveredKey, so numbers never go back even when
// every entry was delivered and deleted). Values: serialized
// budstikke.v1.AuditEvent with time and actor filled in, index unset.
// In microservices mode an OutboxDrainer delivers the entries to the audit
// service; sequence() tells it which numbers are final (outbox_sequence.h).
//
// Record() writes with sync when the store syncs; an error from the store is
// returned as UNAVAILABLE ("audit log unavailable: ...") and reported to the
// health observer, so the server turns NOT_SERVING until a write succeeds.
#ifndef BUDSTIKKE_SERVICES_COMMON_STORE_AUDIT_OUTBOX_H_
#define BUDSTIKKE_SERVICES_COMMON_STORE_AUDIT_OUTBOX_H_

#include <atomic>
#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "services/common/audit_outbox.h"
#include "services/common/clock.h"
#include "services/common/outbox_sequence.h"

namespace budstikke::common {

inline constexpr char kAuditOutboxColumnFamily[] = "audit_outbox";
// In an outbox column family: the highest sequence delivered to its receiver
// (8-byte big-endian), written by the drainer with each delivery.
inline constexpr char kOutboxDeliveredKey[] = "delivered";

// The first sequence number to use in `cf`: past every key and past the
// delivered high-water mark.
absl::StatusOr<uint64_t> NextOutboxSequence(storage::Store* store, std::string_view cf);

class StoreAuditOutbox final : public AuditOutbox {
 public:
  // Called with false when an audit write fails and true when one succeeds
  // again (only on changes).
  using HealthObserver = std::function<void(bool healthy)>;

  // `store` (with kAuditOutboxColumnFamily) and `clock` must outlive it.
  static absl::StatusOr<std::unique_ptr<StoreAuditOutbox>> Create(storage::Store* store,
                                                                  const Clock* clock);

  void SetHealthObserver(HealthObserver observer) { observer_ = std::move(observer); }

  absl::Status Add(storage::WriteBatch* batch, const Caller& caller, v1::AuditEvent event) override;
  // Adds an event whose time and actor are already filled in (events that
  // arrive from another process's outbox).
  void AddFilled(storage::WriteBatch* batch, const v1::AuditEvent& event);

  OutboxSequence& sequence() { return sequence_; }

  static std::string KeyFor(uint64_t sequence);

 protected:
  absl::Status RecordEvent(const Caller& caller, v1::AuditEvent event) override;

 private:
  StoreAuditOutbox(storage::Store* store, const Clock* clock, uint64_t next)
      : store_(store), clock_(clock), sequence_(next) {}
  void ReportHealth(bool healthy);

  storage::Store* store_;
  const Clock* clock_;
  OutboxSequence sequence_;
  std::atomic<int> healthy_{1};
  HealthObserver observer_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_STORE_AUDIT_OUTBOX_H_
