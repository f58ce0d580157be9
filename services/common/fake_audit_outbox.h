// Test double for AuditOutbox: keeps events in memory (with the actor and a
// time filled in, like the real one) and can be told to fail.
#ifndef BUDSTIKKE_SERVICES_COMMON_FAKE_AUDIT_OUTBOX_H_
#define BUDSTIKKE_SERVICES_COMMON_FAKE_AUDIT_OUTBOX_H_

#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/common/audit_outbox.h"

namespace budstikke::common {

class FakeAuditOutbox final : public AuditOutbox {
 public:
  absl::Status Add(storage::WriteBatch*, const Caller& caller, v1::AuditEvent event) override {
    absl::Status s = Keep(caller, std::move(event));
    return s.ok() ? s : AuditLogUnavailable(s.message());
  }

  // While set, every call fails with UNAVAILABLE and keeps nothing.
  void SetFailing(bool failing) {
    absl::MutexLock lock(&mu_);
    failing_ = failing;
  }
  std::vector<v1::AuditEvent> events() const {
    absl::MutexLock lock(&mu_);
    return events_;
  }
  void Clear() {
    absl::MutexLock lock(&mu_);
    events_.clear();
  }

 protected:
  absl::Status RecordEvent(const Caller& caller, v1::AuditEvent event) override {
    return Keep(caller, std::move(event));
  }

 private:
  absl::Status Keep(const Caller& caller, v1::AuditEvent event) {
    absl::MutexLock lock(&mu_);
    if (failing_) return absl::UnavailableError("injected failure");
    v1::Actor* actor = event.mutable_actor();
    actor->set_agency(caller.identity.agency);
    actor->set_user(caller.identity.user);
    actor->set_role(caller.identity.role);
    actor->set_service(caller.via_service);
    if (event.outcome() == v1::AUDIT_OUTCOME_UNSPECIFIED) {
      event.set_outcome(v1::AUDIT_OUTCOME_ALLOWED);
    }
    events_.push_back(std::move(event));
    return absl::OkStatus();
  }

  mutable absl::Mutex mu_;
  bool failing_ = false;
  std::vector<v1::AuditEvent> events_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_FAKE_AUDIT_OUTBOX_H_
