#include "services/common/audit_event.h"

#include <openssl/sha.h>

#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/errors.h"
#include "services/common/text.h"
#include "services/common/time_util.h"

namespace budstikke::common {

v1::Actor ActorOf(const Caller& caller) {
  v1::Actor a;
  a.set_agency(caller.identity.agency);
  a.set_user(caller.identity.user);
  a.set_role(caller.identity.role);
  a.set_service(caller.via_service);
  return a;
}

namespace {

void Bound(std::string* id) {
  if (id->size() <= kMaxRecordedIdBytes && !HasControlCharacter(*id)) return;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(id->data()), id->size(), digest);
  *id = absl::StrCat("sha256:", absl::BytesToHexString(absl::string_view(
                                    reinterpret_cast<const char*>(digest), sizeof digest)));
}

}  // namespace

void StampRecorded(const Caller& caller, absl::Time now, v1::AuditEvent* event) {
  Bound(event->mutable_resource()->mutable_id());
  Bound(event->mutable_request_id());
  *event->mutable_time() = ToProtoTime(now);
  *event->mutable_actor() = ActorOf(caller);
  if (event->outcome() == v1::AUDIT_OUTCOME_UNSPECIFIED) {
    event->set_outcome(v1::AUDIT_OUTCOME_ALLOWED);
  }
  if (event->legal_basis() == v1::LEGAL_BASIS_UNSPECIFIED) {
    event->set_legal_basis(v1::LEGAL_BASIS_NONE);
  }
}

v1::ResourceKind ResourceKindOfAction(absl::string_view action) {
  const absl::string_view noun = action.substr(0, action.find('.'));
  if (noun == "consultation") return v1::RESOURCE_KIND_CONSULTATION;
  if (noun == "consent") return v1::RESOURCE_KIND_CONSENT;
  if (noun == "referral") return v1::RESOURCE_KIND_REFERRAL;
  if (noun == "attachment") return v1::RESOURCE_KIND_ATTACHMENT;
  if (noun == "agency") return v1::RESOURCE_KIND_AGENCY;
  if (noun == "agency_key") return v1::RESOURCE_KIND_AGENCY_KEY;
  if (noun == "backup") return v1::RESOURCE_KIND_BACKUP;
  if (noun == "audit") return v1::RESOURCE_KIND_AUDIT_LOG;
  return v1::RESOURCE_KIND_UNSPECIFIED;
}

v1::AuditEvent AllowedEvent(absl::string_view action, v1::ResourceKind kind, absl::string_view id) {
  v1::AuditEvent e;
  e.set_action(std::string(action));
  e.mutable_resource()->set_kind(kind);
  e.mutable_resource()->set_id(std::string(id));
  e.set_outcome(v1::AUDIT_OUTCOME_ALLOWED);
  e.set_legal_basis(v1::LEGAL_BASIS_NONE);
  return e;
}

std::string RuleIdsOf(const absl::Status& refusal) {
  std::vector<std::string> rules;
  if (auto details = GetErrorDetails(refusal)) {
    for (const v1::PolicyViolation& v : details->violations()) rules.push_back(v.rule());
  }
  return absl::StrJoin(rules, ",");
}

v1::AuditEvent DeniedEvent(v1::AuditEvent event, const absl::Status& refusal) {
  event.set_outcome(v1::AUDIT_OUTCOME_DENIED);
  event.set_rule(RuleIdsOf(refusal));
  return event;
}

absl::Status RecordRefusal(AuditOutbox& outbox, const Caller& caller, v1::AuditEvent event,
                           absl::Status refusal) {
  absl::Status recorded = outbox.Record(caller, DeniedEvent(std::move(event), refusal));
  if (!recorded.ok()) return recorded;
  return refusal;
}

absl::Status RecordHiddenProbe(AuditOutbox& outbox, const Caller& caller, v1::AuditEvent event,
                               absl::string_view rule, absl::Status not_found) {
  event.set_outcome(v1::AUDIT_OUTCOME_DENIED);
  event.set_rule(std::string(rule));
  absl::Status recorded = outbox.Record(caller, std::move(event));
  if (!recorded.ok()) return recorded;
  return not_found;
}

}  // namespace budstikke::common
