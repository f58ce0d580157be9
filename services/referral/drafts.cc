// ReferralDesk: the co-signer's side of a draft (Cosign, Return) and the
// escalation of urgent referrals that are not acknowledged in time.
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/audit_event.h"
#include "services/common/time_util.h"
#include "services/referral/internal/records.h"
#include "services/referral/referral.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;
using referral_internal::kNotFound;
using referral_internal::RecordKey;

constexpr char kCosignKind[] = "referral.cosign";

absl::Status NotADraft(const v1::Referral& r) {
  return common::PolicyRefusal(
      {{kRuleCosignState,
        absl::StrCat("only a DRAFT can be co-signed or returned; this referral is ",
                     v1::ReferralStatus_Name(r.status()).substr(sizeof("REFERRAL_STATUS_") - 1))}});
}

// The escalation job's identity in audit events and history entries.
Caller EscalationCaller() {
  Caller c;
  c.identity.service = "referral";
  c.via_service = "referral";
  return c;
}

}  // namespace

ReferralDesk::~ReferralDesk() { job_.Stop(); }

absl::StatusOr<v1::Referral> ReferralDesk::Cosign(const Caller& caller, absl::string_view id) {
  absl::MutexLock lock(&mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, id, "referral.cosign"));
  v1::Referral& r = stored.referral;
  if (r.cosigner_agency() != caller.agency()) return absl::NotFoundError(kNotFound);
  if (r.status() == v1::REFERRAL_STATUS_SENT && r.sender_agency() == caller.agency()) {
    // A retried Cosign: the referral as it is (a read, audited first).
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
    return r;
  }
  if (r.status() != v1::REFERRAL_STATUS_DRAFT) {
    return common::RecordRefusal(*deps_.audit, caller, Event(kCosignKind, stored, ""),
                                 NotADraft(r));
  }
  auto requested = common::GetAgencyOr(*deps_.directory, r.requested_recipient(),
                                       absl::NotFoundError("recipient agency not found"));
  if (!requested.ok()) return requested.status();
  auto nid = common::NationalId::Parse(r.subject_national_id());
  if (!nid.ok()) return absl::DataLossError("referral subject does not parse");
  const absl::Time now = deps_.clock->Now();

  // Every Send rule again, now with the co-signer as the signer.
  SendFacts f;
  f.stage = SendStage::kCosign;
  f.today = policy::DateOf(now, options_.zone);
  f.sender_agency = caller.agency();
  f.sender_role = caller.role();
  BUDSTIKKE_ASSIGN_OR_RETURN(f.sender_type,
                             common::AgencyTypeOf(*deps_.directory, caller.agency()));
  f.initiating_agency = r.initiating_agency();
  BUDSTIKKE_ASSIGN_OR_RETURN(f.initiating_type,
                             common::AgencyTypeOf(*deps_.directory, r.initiating_agency()));
  f.recipient_agency = requested->id();
  f.recipient_type = requested->type();
  f.subject_pseudonym = stored.pseudonym;
  f.subject_synthetic = nid->is_synthetic();
  f.subject_age = nid->AgeOn(f.today);
  BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
  if (consent.has_value()) f.consent = *consent;
  f.statutory_duty = r.legal_basis() == v1::LEGAL_BASIS_STATUTORY_DUTY;
  f.justification = r.statutory_duty().justification();
  if (r.has_parent_conversation_date()) {
    f.parent_conversation = policy::FromProto(r.parent_conversation_date());
  }
  for (const v1::AttachmentInfo& a : r.attachments()) {
    if (a.kind() == v1::ATTACHMENT_KIND_ACTION_LOG) f.has_action_log = true;
  }
  f.parent_demand = r.parent_demand();
  std::vector<common::Violation> violations = EvaluateSend(options_.rules, f);
  if (!violations.empty()) {
    return common::RecordRefusal(*deps_.audit, caller, Event(kCosignKind, stored, ""),
                                 common::PolicyRefusal(violations));
  }

  BUDSTIKKE_ASSIGN_OR_RETURN(Route route, RouteNow(*requested, r.priority() == v1::PRIORITY_URGENT,
                                                   r.known_patient(), now));
  r.set_status(v1::REFERRAL_STATUS_SENT);
  r.set_sender_agency(caller.agency());
  *r.mutable_sender() = common::ActorOf(caller);
  r.set_recipient_agency(route.recipient_agency);
  r.set_routed_reason(route.reason);
  *r.mutable_update_time() = common::ToProtoTime(now);
  v1::ReferralHistoryEntry* h = r.add_history();
  *h->mutable_time() = common::ToProtoTime(now);
  h->set_status(v1::REFERRAL_STATUS_SENT);
  *h->mutable_by() = common::ActorOf(caller);
  h->set_note(route.reason.empty() ? "co-signed"
                                   : absl::StrCat("co-signed; routed: ", route.reason));

  const std::vector<std::string> readers = Readers(r);
  for (const std::string& reader : readers) {
    BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->EnsureAgencyKey(reader).status());
  }
  storage::WriteBatch batch;
  for (const v1::AttachmentInfo& info : r.attachments()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(info.id(), caller.agency()));
    BUDSTIKKE_RETURN_IF_ERROR(ResealAttachment(a, r.id(), readers, &batch));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  batch.Put(kColumnFamily, MailboxKey("s", caller.agency(), r, now), "");
  std::vector<common::InboxDelivery> events;
  AddDelivery(r, now, &batch, &events);
  events.push_back({r.initiating_agency(), v1::INBOX_EVENT_TYPE_REFERRAL_DRAFT_CHANGED,
                    common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()});
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(&batch, caller, Event(kCosignKind, stored, "")));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(std::move(batch), std::move(events)));
  return r;
}

absl::StatusOr<v1::Referral> ReferralDesk::Return(const Caller& caller,
                                                  const v1::ReturnReferralRequest& req) {
  if (req.reason().empty() || req.reason().size() > 5000) {
    return absl::InvalidArgumentError("reason is required (1-5000 bytes)");
  }
  return Transition(
      caller, req.id(), Party::kCosigner, "referral.return",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        if (r->status() == v1::REFERRAL_STATUS_RETURNED) return false;
        if (r->status() != v1::REFERRAL_STATUS_DRAFT) return NotADraft(*r);
        r->set_status(v1::REFERRAL_STATUS_RETURNED);
        r->set_return_reason(req.reason());
        return true;
      },
      v1::INBOX_EVENT_TYPE_REFERRAL_DRAFT_CHANGED, req.reason());
}

// ---------------------------------------------------------------------------
// Escalation.

absl::StatusOr<int> ReferralDesk::EscalateDue() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = deps_.clock->Now();
  struct Due {
    std::string key, id, recipient;
  };
  std::vector<Due> due;
  {
    auto it = deps_.store->Scan(kColumnFamily, "e/");
    for (; it->Valid(); it->Next()) {
      const std::string key(it->key());
      std::vector<std::string> parts = absl::StrSplit(key, absl::MaxSplits('/', 2));
      int64_t micros = 0;
      if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &micros)) continue;
      if (absl::FromUnixMicros(micros) > now) break;
      due.push_back({key, parts[2], std::string(it->value())});
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  int escalated = 0;
  for (const Due& d : due) {
    auto done = EscalateOne(d.key, d.id, d.recipient, now);
    if (!done.ok()) return done.status();
    escalated += *done ? 1 : 0;
  }
  return escalated;
}

absl::StatusOr<bool> ReferralDesk::EscalateOne(const std::string& key, const std::string& id,
                                               const std::string& recipient, absl::Time now) {
  storage::WriteBatch batch;
  batch.Delete(kColumnFamily, key);
  auto loaded = Load(id, recipient);
  if (!loaded.ok()) {
    // Gone or unreadable for good: nothing to escalate.
    if (absl::IsNotFound(loaded.status()) || absl::IsFailedPrecondition(loaded.status())) {
      BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Write(std::move(batch)));
      return false;
    }
    return loaded.status();
  }
  Stored stored = *std::move(loaded);
  v1::Referral& r = stored.referral;
  BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
  if (EffectiveStatus(r, consent) != v1::REFERRAL_STATUS_SENT) {
    BUDSTIKKE_RETURN_IF_ERROR(deps_.store->Write(std::move(batch)));
    return false;
  }
  const Caller job = EscalationCaller();
  v1::ReferralHistoryEntry* h = r.add_history();
  *h->mutable_time() = common::ToProtoTime(now);
  h->set_status(v1::REFERRAL_STATUS_SENT);
  *h->mutable_by() = common::ActorOf(job);
  h->set_note(absl::StrCat("escalated: not acknowledged within ",
                           absl::FormatDuration(options_.urgent_ack)));
  *r.mutable_update_time() = common::ToProtoTime(now);
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(&batch, job, Event("referral.escalate", stored, "")));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(
      std::move(batch), {{r.recipient_agency(), v1::INBOX_EVENT_TYPE_REFERRAL_ESCALATED,
                          common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), v1::PRIORITY_URGENT}}));
  if (options_.on_escalation) options_.on_escalation();
  return true;
}

void ReferralDesk::StartEscalationJob(absl::Duration period) {
  job_.Start(period, [this] {
    // Errors: retried next round.
    if (options_.urgent_ack > absl::ZeroDuration()) (void)EscalateDue();
    (void)PurgeUnsentAttachments();
  });
}

}  // namespace budstikke::referral
