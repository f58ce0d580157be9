// StoreAuditOutbox: the AuditOutbox of one process, writing events into the
// store's "audit_outbox" column family; the audit service drains that column
// family into the Merkle log.
//
// Keys: 8-byte big-endian sequence number, increasing within the process
// (initialized past the largest key present at start). Values: serialized
// budstikke.v1.AuditEvent with time and actor filled in, index unset.
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

namespace budstikke::common {

inline constexpr char kAuditOutboxColumnFamily[] = "audit_outbox";

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

  static std::string KeyFor(uint64_t sequence);

 protected:
  absl::Status RecordEvent(const Caller& caller, v1::AuditEvent event) override;

 private:
  StoreAuditOutbox(storage::Store* store, const Clock* clock, uint64_t next)
      : store_(store), clock_(clock), next_(next) {}
  void Fill(const Caller& caller, v1::AuditEvent* event) const;
  void ReportHealth(bool healthy);

  storage::Store* store_;
  const Clock* clock_;
  std::atomic<uint64_t> next_;
  std::atomic<int> healthy_{1};
  HealthObserver observer_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_STORE_AUDIT_OUTBOX_H_
