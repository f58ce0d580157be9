// ReferralDesk: construction, reads (Get, List) and the recipient's and
// sender's transitions (Acknowledge, Decide, Withdraw). Send, the consent
// gate, attachments and the storage codec have files of their own.
#include "services/referral/referral.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/paging.h"
#include "services/common/time_util.h"
#include "services/referral/internal/records.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;
using referral_internal::IsDecided;
using referral_internal::kNotFound;
using referral_internal::RecordKey;

// List output: no content fields.
v1::Referral Summary(const v1::Referral& r) {
  v1::Referral s = r;
  s.clear_subject_national_id();
  s.clear_statutory_duty();
  s.clear_reason();
  s.clear_parent_conversation_date();
  s.clear_details();
  s.clear_attachments();
  s.clear_decision_reason();
  s.clear_purpose();
  s.clear_return_reason();
  for (v1::ReferralHistoryEntry& h : *s.mutable_history()) h.clear_note();
  return s;
}

absl::StatusOr<bool> RefuseWithdrawn(const v1::Referral& r) {
  if (r.status() == v1::REFERRAL_STATUS_WITHDRAWN) {
    return common::PolicyRefusal({{kRuleWithdrawn, "the referral was withdrawn"}});
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ReferralDesk>> ReferralDesk::Create(
    storage::Store* store, storage::Keyring* keyring, common::AuditOutbox* audit,
    common::InboxWriter* inbox, const common::AgencyLookup* directory,
    const common::ConsentChecker* consents, const common::Clock* clock, ReferralOptions options) {
  common::RecordDeps deps{store, keyring, nullptr, audit, inbox, directory, clock};
  BUDSTIKKE_ASSIGN_OR_RETURN(deps.records, common::SealedRecords::Create(keyring));
  auto desk = std::unique_ptr<ReferralDesk>(
      new ReferralDesk(std::move(deps), consents, std::move(options)));
  BUDSTIKKE_RETURN_IF_ERROR(desk->IndexUnsentAttachments());
  return desk;
}

v1::AuditEvent ReferralDesk::Event(const std::string& action, const Stored& stored,
                                   const std::string& request_id) const {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_REFERRAL, stored.referral.id());
  e.set_subject(stored.pseudonym);
  e.set_legal_basis(stored.referral.legal_basis() == v1::LEGAL_BASIS_UNSPECIFIED
                        ? v1::LEGAL_BASIS_NONE
                        : stored.referral.legal_basis());
  e.set_consent_id(stored.referral.consent_id());
  e.set_request_id(request_id);
  // A parents' demand is its own basis under the consent (DESIGN).
  if (stored.referral.parent_demand()) e.set_rule(kRulePptParentDemand);
  return e;
}

absl::Status ReferralDesk::RecordRead(const Caller& caller, const Stored& stored,
                                      const std::string& request_id) {
  return deps_.audit->Record(caller, Event("referral.read", stored, request_id));
}

// ---------------------------------------------------------------------------
// Reads.

bool ReferralDesk::IsInvitedOnly(const v1::Referral& r, const std::string& agency) {
  return agency != r.initiating_agency() && agency != r.sender_agency() &&
         agency != r.recipient_agency() && agency != r.cosigner_agency() &&
         std::find(r.invited_agencies().begin(), r.invited_agencies().end(), agency) !=
             r.invited_agencies().end();
}

absl::StatusOr<v1::Referral> ReferralDesk::Get(const Caller& caller, absl::string_view id) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, id, "referral.read"));
  v1::Referral& r = stored.referral;
  if (IsInvitedOnly(r, caller.agency())) {
    // Reason, subject and parties, while the consent holds.
    BUDSTIKKE_RETURN_IF_ERROR(GateThread(caller, stored, "referral.read"));
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
    return InvitedView(r);
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
  BUDSTIKKE_RETURN_IF_ERROR(
      GateRead(caller, r, consent, /*further=*/false, Event("referral.read", stored, "")));
  BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
  r.set_status(EffectiveStatus(r, consent));
  return r;
}

absl::StatusOr<v1::ListReferralsResponse> ReferralDesk::List(const Caller& caller,
                                                             const v1::ListReferralsRequest& req) {
  BUDSTIKKE_ASSIGN_OR_RETURN(int page_size, common::PageSize(req.page_size()));
  const char* box = req.mailbox() == v1::MAILBOX_SENT     ? "s/"
                    : req.mailbox() == v1::MAILBOX_COSIGN ? "c/"
                                                          : "v/";
  const std::string prefix = absl::StrCat(box, caller.agency(), "/");
  // Each consent is read once per page, however many rows it covers.
  absl::flat_hash_map<std::string, ConsentOfReferral> consents;
  v1::ListReferralsResponse resp;
  auto row = [&](absl::string_view rest) -> absl::StatusOr<bool> {
    const std::string id(rest.substr(rest.rfind('/') + 1));
    auto loaded = Load(id, caller.agency());
    // Sealed under a key version that was shredded: unreadable for good, so
    // the page lists the readable ones instead of failing forever.
    if (absl::IsFailedPrecondition(loaded.status())) return false;
    if (!loaded.ok()) return loaded.status();
    const v1::Referral& r = loaded->referral;
    auto [it, fresh] = consents.try_emplace(r.consent_id());
    if (fresh) {
      BUDSTIKKE_ASSIGN_OR_RETURN(it->second, ConsentOf(r));
    }
    v1::Referral s = Summary(r);
    s.set_status(EffectiveStatus(r, it->second));
    if (req.statuses_size() > 0 && std::find(req.statuses().begin(), req.statuses().end(),
                                             s.status()) == req.statuses().end()) {
      return false;
    }
    *resp.add_referrals() = std::move(s);
    return true;
  };
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string next, common::ScanPage(*deps_.store, kColumnFamily, prefix,
                                                                req.page_token(), page_size, row));
  resp.set_next_page_token(next);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Record(
      caller, common::AllowedEvent("referral.list", v1::RESOURCE_KIND_REFERRAL, "")));
  return resp;
}

// ---------------------------------------------------------------------------
// Transitions.

absl::StatusOr<v1::Referral> ReferralDesk::Transition(
    const Caller& caller, absl::string_view id, Party party, const std::string& action,
    const std::function<absl::StatusOr<bool>(v1::Referral*)>& change, v1::InboxEventType event_type,
    const std::string& note) {
  absl::MutexLock lock(&mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, id, action));
  v1::Referral& r = stored.referral;
  const bool is_party = party == Party::kRecipient
                            ? !r.sender_agency().empty() && r.recipient_agency() == caller.agency()
                        : party == Party::kCosigner ? r.cosigner_agency() == caller.agency()
                                                    : r.sender_agency() == caller.agency() ||
                                                          r.initiating_agency() == caller.agency();
  if (!is_party) return absl::NotFoundError(kNotFound);
  if (party == Party::kRecipient && r.status() != v1::REFERRAL_STATUS_WITHDRAWN) {
    BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
    BUDSTIKKE_RETURN_IF_ERROR(
        GateRead(caller, r, consent, /*further=*/false, Event(action, stored, "")));
  }
  const std::vector<std::string> before = Readers(r);
  const bool was_draft = r.sender_agency().empty();
  auto changed = change(&r);
  if (!changed.ok()) {
    if (!absl::IsFailedPrecondition(changed.status())) return changed.status();
    return common::RecordRefusal(*deps_.audit, caller, Event(action, stored, ""), changed.status());
  }
  if (!*changed) {
    // Idempotent no-op: returns the referral, so it is a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
    return r;
  }
  const absl::Time now = deps_.clock->Now();
  *r.mutable_update_time() = common::ToProtoTime(now);
  v1::ReferralHistoryEntry* h = r.add_history();
  *h->mutable_time() = common::ToProtoTime(now);
  h->set_status(r.status());
  *h->mutable_by() = common::ActorOf(caller);
  h->set_note(note);
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  storage::WriteBatch batch;
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(&batch, caller, Event(action, stored, "")));
  // Every other party that could read it before the change is told.
  std::vector<common::InboxDelivery> events;
  for (const std::string& agency : before) {
    if (agency == caller.agency()) continue;
    if (!was_draft && party != Party::kRecipient && agency != r.recipient_agency()) continue;
    if (party == Party::kRecipient && agency != r.sender_agency() &&
        agency != r.initiating_agency()) {
      continue;
    }
    events.push_back(
        {agency, event_type, common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()});
  }
  BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(std::move(batch), std::move(events)));
  return r;
}

absl::StatusOr<v1::Referral> ReferralDesk::Acknowledge(const Caller& caller, absl::string_view id) {
  const absl::Time now = deps_.clock->Now();
  return Transition(
      caller, id, Party::kRecipient, "referral.acknowledge",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        BUDSTIKKE_RETURN_IF_ERROR(RefuseWithdrawn(*r).status());
        if (r->status() != v1::REFERRAL_STATUS_SENT) return false;
        r->set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
        *r->mutable_acknowledged_by() = common::ActorOf(caller);
        *r->mutable_acknowledge_time() = common::ToProtoTime(now);
        return true;
      },
      v1::INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED);
}

absl::StatusOr<v1::Referral> ReferralDesk::Decide(const Caller& caller,
                                                  const v1::DecideReferralRequest& req) {
  v1::ReferralStatus target;
  switch (req.decision()) {
    case v1::REFERRAL_DECISION_ACCEPT:
      target = v1::REFERRAL_STATUS_ACCEPTED;
      break;
    case v1::REFERRAL_DECISION_REJECT:
      target = v1::REFERRAL_STATUS_REJECTED;
      break;
    case v1::REFERRAL_DECISION_NEED_INFO:
      target = v1::REFERRAL_STATUS_NEED_INFO;
      break;
    default:
      return absl::InvalidArgumentError("decision must be ACCEPT, REJECT or NEED_INFO");
  }
  if (target != v1::REFERRAL_STATUS_ACCEPTED && req.reason().empty()) {
    return absl::InvalidArgumentError("reason is required for REJECT and NEED_INFO");
  }
  if (req.reason().size() > 5000) return absl::InvalidArgumentError("reason: at most 5000 bytes");
  const absl::Time now = deps_.clock->Now();
  return Transition(
      caller, req.id(), Party::kRecipient, "referral.decide",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        BUDSTIKKE_RETURN_IF_ERROR(RefuseWithdrawn(*r).status());
        if (IsDecided(r->status())) {
          return common::PolicyRefusal(
              {{kRuleAlreadyDecided, "the referral was already accepted or rejected"}});
        }
        if (r->status() == v1::REFERRAL_STATUS_SENT) {
          *r->mutable_acknowledged_by() = common::ActorOf(caller);
          *r->mutable_acknowledge_time() = common::ToProtoTime(now);
        }
        r->set_status(target);
        r->set_decision_reason(req.reason());
        *r->mutable_decided_by() = common::ActorOf(caller);
        *r->mutable_decide_time() = common::ToProtoTime(now);
        return true;
      },
      v1::INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED, req.reason());
}

absl::StatusOr<v1::Referral> ReferralDesk::Withdraw(const Caller& caller,
                                                    const v1::WithdrawReferralRequest& req) {
  if (req.reason().size() > 5000) return absl::InvalidArgumentError("reason: at most 5000 bytes");
  const absl::Time now = deps_.clock->Now();
  return Transition(
      caller, req.id(), Party::kSender, "referral.withdraw",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        if (r->status() == v1::REFERRAL_STATUS_WITHDRAWN) return false;
        // A draft is withdrawn by its initiator; a sent referral by its
        // sender or its initiator.
        if (IsDecided(r->status())) {
          return common::PolicyRefusal(
              {{kRuleAlreadyDecided, "the referral was already accepted or rejected"}});
        }
        r->set_status(v1::REFERRAL_STATUS_WITHDRAWN);
        *r->mutable_withdraw_time() = common::ToProtoTime(now);
        return true;
      },
      v1::INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN, req.reason());
}

}  // namespace budstikke::referral
