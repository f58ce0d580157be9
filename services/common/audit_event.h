// The one builder of audit events, allowed and denied, used by every service,
// the authorization path (grpc_auth.cc) and the audit service itself.
//
// An event starts as AllowedEvent(action, kind, id); the service adds the
// subject pseudonym, legal basis, consent id and request id. A refusal is
// recorded with RecordRefusal(outbox, caller, event, refusal): the event
// becomes DENIED and its `rule` lists EVERY rule id carried by the refusal's
// details, joined with "," — exactly the `violations[].rule` the client
// receives. A refusal must therefore carry its rules (errors.h: PolicyRefusal,
// RuleRefusal). The actor and time are filled by the AuditOutbox from the
// caller. Field meanings: docs/API.md, "Audit events".
//
// Thread safety: pure functions; RecordRefusal is as thread-safe as the outbox.
#ifndef BUDSTIKKE_SERVICES_COMMON_AUDIT_EVENT_H_
#define BUDSTIKKE_SERVICES_COMMON_AUDIT_EVENT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "budstikke/v1/audit.pb.h"
#include "services/common/audit_outbox.h"
#include "services/common/identity.h"

namespace budstikke::common {

// The person (and the service acting for them) as recorded in a record's
// fields such as `sender`, `claimed_by` or `revoked_by`.
v1::Actor ActorOf(const Caller& caller);

// What every AuditOutbox fills in when it records `event`: the time `now`,
// the actor (ActorOf), and outcome ALLOWED / legal basis NONE where unset.
// The strings a caller chooses (resource id, request id) are bounded: one
// longer than kMaxRecordedIdBytes, or with a control character, is recorded
// as "sha256:<hex of it>" so no leaf can grow with a caller's input.
void StampRecorded(const Caller& caller, absl::Time now, v1::AuditEvent* event);

inline constexpr size_t kMaxRecordedIdBytes = 1024;

// The kind of resource an audit action is about: "referral.read" -> REFERRAL,
// UNSPECIFIED for an action it does not know.
v1::ResourceKind ResourceKindOfAction(absl::string_view action);

// An ALLOWED event of `action` on the resource (kind, id), legal basis NONE.
v1::AuditEvent AllowedEvent(absl::string_view action, v1::ResourceKind kind, absl::string_view id);

// The rule ids `refusal` carries in its details, in order, joined with ",";
// "" when it carries none.
std::string RuleIdsOf(const absl::Status& refusal);

// `event` as the record of `refusal`: outcome DENIED, rule = RuleIdsOf.
v1::AuditEvent DeniedEvent(v1::AuditEvent event, const absl::Status& refusal);

// Records DeniedEvent(event, refusal) durably, then returns `refusal`; if it
// cannot be recorded, the outbox's UNAVAILABLE instead (no audit, no answer).
absl::Status RecordRefusal(AuditOutbox& outbox, const Caller& caller, v1::AuditEvent event,
                           absl::Status refusal);

// A probe of a record the caller's agency may not see (another agency's
// consent, referral or consultation): records `event` as DENIED with `rule`
// (in the audit log only), then returns `not_found`, the answer a made-up id
// gets, so the caller learns nothing and auditors see the attempt. Repeated
// probes are aggregated like every refusal (refusal_aggregator.h). If the
// event cannot be recorded, the outbox's UNAVAILABLE instead.
absl::Status RecordHiddenProbe(AuditOutbox& outbox, const Caller& caller, v1::AuditEvent event,
                               absl::string_view rule, absl::Status not_found);

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_AUDIT_EVENT_H_
