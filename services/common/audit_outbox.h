// AuditOutbox: how every service records audit events (transactional outbox).
//
// A change and its audit events commit in one storage::WriteBatch: call Add()
// on the batch that holds the change, then Store::Write it. A read records its
// event durably with Record() BEFORE any content is returned; if Record() fails
// the read must fail with UNAVAILABLE and return nothing (no audit, no access).
// Refusals (DENIED outcomes) are recorded with Record() too; with
// AggregateRefusals() the repeats of a refusal within a window are counted
// and recorded as one event when FlushRefusals() finds the window ended
// (refusal_aggregator.h).
//
// Events are built with audit_event.h (AllowedEvent, RecordRefusal): the
// caller fills action, resource, subject (pseudonym, never a national id),
// outcome, rule, legal_basis, consent_id and request_id; the outbox fills the
// time and the actor from `caller`. `index` is assigned when the audit service
// appends the event to the Merkle log.
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_AUDIT_OUTBOX_H_
#define BUDSTIKKE_SERVICES_COMMON_AUDIT_OUTBOX_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "budstikke/v1/audit.pb.h"
#include "services/common/identity.h"
#include "services/common/refusal_aggregator.h"
#include "storage/store.h"

namespace budstikke::common {

// The one error of an audit event that could not be recorded: UNAVAILABLE
// "audit log unavailable: <why>".
inline absl::Status AuditLogUnavailable(absl::string_view why) {
  return absl::UnavailableError(absl::StrCat("audit log unavailable: ", why));
}

class AuditOutbox {
 public:
  virtual ~AuditOutbox() = default;

  // Adds `event` to `batch`; it becomes durable exactly when the batch does.
  virtual absl::Status Add(storage::WriteBatch* batch, const Caller& caller,
                           v1::AuditEvent event) = 0;

  // Writes `event` durably now (a repeated refusal: counted, recorded at the
  // end of its window). Any failure comes back as AuditLogUnavailable(why),
  // once: callers return it as it is.
  absl::Status Record(const Caller& caller, v1::AuditEvent event) {
    if (aggregator_ != nullptr && aggregator_->Absorb(caller, event)) return absl::OkStatus();
    absl::Status s = RecordEvent(caller, std::move(event));
    return s.ok() ? s : AuditLogUnavailable(s.message());
  }

  // From now on, Record() aggregates repeated refusals in `aggregator` (not
  // owned; outlives this outbox). Call before the outbox is shared.
  void AggregateRefusals(RefusalAggregator* aggregator) { aggregator_ = aggregator; }

  // Records one event for each aggregation window that ended (every window
  // when `all`, at shutdown). A window whose event cannot be recorded now is
  // lost with the reason returned (its first refusal is in the log).
  absl::Status FlushRefusals(bool all) {
    if (aggregator_ == nullptr) return absl::OkStatus();
    absl::Status result;
    for (RefusalAggregator::Summary& s : aggregator_->TakeEnded(all)) {
      result.Update(RecordEvent(s.caller, std::move(s.event)));
    }
    return result.ok() ? result : AuditLogUnavailable(result.message());
  }

 protected:
  // Writes `event` durably now; returns the reason it could not.
  virtual absl::Status RecordEvent(const Caller& caller, v1::AuditEvent event) = 0;

 private:
  RefusalAggregator* aggregator_ = nullptr;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_AUDIT_OUTBOX_H_
