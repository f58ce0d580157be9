// ReferralDesk: the follow-up thread of a referral (messages both ways,
// invited agencies, the sender's supplement after NEED_INFO). Every read and
// write of the thread is a disclosure under the referral's consent: while it
// does not hold, every party is refused (audited DENIED with every rule id).
#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/audit_event.h"
#include "services/common/time_util.h"
#include "services/referral/internal/records.h"
#include "services/referral/referral.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;
using referral_internal::kAttachmentNotFound;
using referral_internal::kNotFound;
using referral_internal::MessageKey;
using referral_internal::MessagePrefix;
using referral_internal::RecordKey;

bool IsInvited(const v1::Referral& r, const std::string& agency) {
  return std::find(r.invited_agencies().begin(), r.invited_agencies().end(), agency) !=
         r.invited_agencies().end();
}

absl::Status ValidateText(const std::string& text, int attachments, int max_attachments) {
  if (text.empty() || text.size() > 20000) {
    return absl::InvalidArgumentError("text is required (1-20000 bytes)");
  }
  if (attachments > max_attachments) {
    return absl::InvalidArgumentError(absl::StrCat("attachment_ids: at most ", max_attachments));
  }
  return absl::OkStatus();
}

}  // namespace

v1::Referral ReferralDesk::InvitedView(const v1::Referral& r) {
  v1::Referral v;
  v.set_id(r.id());
  v.set_status(r.status());
  v.set_subject_national_id(r.subject_national_id());
  v.set_reason(r.reason());
  v.set_initiating_agency(r.initiating_agency());
  v.set_sender_agency(r.sender_agency());
  v.set_recipient_agency(r.recipient_agency());
  v.set_recipient_type(r.recipient_type());
  v.set_legal_basis(r.legal_basis());
  v.set_consent_id(r.consent_id());
  v.set_priority(r.priority());
  *v.mutable_invited_agencies() = r.invited_agencies();
  *v.mutable_create_time() = r.create_time();
  return v;
}

absl::Status ReferralDesk::GateThread(const Caller& caller, const Stored& stored,
                                      const std::string& action) {
  const v1::Referral& r = stored.referral;
  const std::string& a = caller.agency();
  const bool party =
      !r.sender_agency().empty() && (a == r.sender_agency() || a == r.initiating_agency() ||
                                     a == r.recipient_agency() || IsInvited(r, a));
  if (!party) return absl::NotFoundError(kNotFound);
  BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
  std::vector<common::Violation> v;
  if (consent.has_value()) {
    v = policy::ConsentUsable(options_.rules, *consent, policy::Disclosure{}, Today());
  }
  if (v.empty() && r.status() == v1::REFERRAL_STATUS_WITHDRAWN) {
    v.push_back({kRuleWithdrawn, "the referral was withdrawn"});
  }
  if (v.empty()) return absl::OkStatus();
  return common::RecordRefusal(*deps_.audit, caller, Event(action, stored, ""),
                               common::PolicyRefusal(v));
}

absl::StatusOr<std::vector<ReferralDesk::StoredAttachment>> ReferralDesk::ClaimAttachments(
    const Caller& caller, const google::protobuf::RepeatedPtrField<std::string>& ids) const {
  std::vector<StoredAttachment> out;
  for (const std::string& aid : ids) {
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(aid, caller.agency()));
    if (a.owner != caller.agency() || !a.referral_id.empty()) {
      return absl::NotFoundError(kAttachmentNotFound);
    }
    out.push_back(std::move(a));
  }
  return out;
}

absl::StatusOr<std::vector<v1::ReferralMessage>> ReferralDesk::ReadThread(
    const v1::Referral& r, const std::string& agency) const {
  std::vector<v1::ReferralMessage> out;
  const std::string prefix = MessagePrefix(r.id());
  auto it = deps_.store->Scan(kColumnFamily, prefix);
  for (; it->Valid(); it->Next()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(auto opened,
                               deps_.records->Open(kColumnFamily, it->key(), it->value(), agency));
    v1::ReferralMessage m;
    if (!m.ParseFromString(opened.plaintext)) {
      return absl::DataLossError("referral message does not parse");
    }
    out.push_back(std::move(m));
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return out;
}

absl::Status ReferralDesk::AddMessage(const Caller& caller, const Stored& stored,
                                      v1::ReferralMessage* m,
                                      const std::vector<StoredAttachment>& attachments,
                                      absl::Time now, storage::WriteBatch* batch) {
  const v1::Referral& r = stored.referral;
  const std::vector<std::string> readers = Readers(r);
  // Numbered in order (callers hold mu_): "msg-000001", ... per referral.
  int count = 0;
  auto it = deps_.store->Scan(kColumnFamily, MessagePrefix(r.id()));
  for (; it->Valid(); it->Next()) ++count;
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  m->set_id(absl::StrFormat("msg-%06d", count + 1));
  m->set_referral_id(r.id());
  *m->mutable_author() = common::ActorOf(caller);
  *m->mutable_create_time() = common::ToProtoTime(now);
  for (const StoredAttachment& a : attachments) {
    BUDSTIKKE_RETURN_IF_ERROR(ResealAttachment(a, r.id(), readers, batch));
    *m->add_attachments() = a.info;
  }
  const std::string key = MessageKey(r.id(), m->id());
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string value,
      deps_.records->Seal(kColumnFamily, key, stored.pseudonym, m->SerializeAsString(), readers));
  batch->Put(kColumnFamily, key, value);
  return absl::OkStatus();
}

std::vector<common::InboxDelivery> ReferralDesk::TellOthers(const Caller& caller,
                                                            const v1::Referral& r,
                                                            v1::InboxEventType type) {
  std::vector<common::InboxDelivery> events;
  for (const std::string& agency : Readers(r)) {
    if (agency == caller.agency()) continue;
    events.push_back({agency, type, common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()});
  }
  return events;
}

absl::StatusOr<v1::ReferralMessage> ReferralDesk::PostMessage(
    const Caller& caller, const v1::PostReferralMessageRequest& req) {
  BUDSTIKKE_RETURN_IF_ERROR(
      ValidateText(req.text(), req.attachment_ids_size(), options_.max_attachments));
  absl::MutexLock lock(&mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, req.referral_id(), "referral.message"));
  BUDSTIKKE_RETURN_IF_ERROR(GateThread(caller, stored, "referral.message"));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<StoredAttachment> attachments,
                             ClaimAttachments(caller, req.attachment_ids()));
  const absl::Time now = deps_.clock->Now();
  v1::ReferralMessage m;
  m.set_text(req.text());
  storage::WriteBatch batch;
  BUDSTIKKE_RETURN_IF_ERROR(AddMessage(caller, stored, &m, attachments, now, &batch));
  BUDSTIKKE_RETURN_IF_ERROR(
      deps_.audit->Add(&batch, caller, Event("referral.message", stored, "")));
  BUDSTIKKE_RETURN_IF_ERROR(
      deps_.Commit(std::move(batch),
                   TellOthers(caller, stored.referral, v1::INBOX_EVENT_TYPE_REFERRAL_MESSAGE)));
  return m;
}

absl::StatusOr<v1::ReferralThread> ReferralDesk::GetThread(const Caller& caller,
                                                           absl::string_view referral_id) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, referral_id, "referral.thread.read"));
  BUDSTIKKE_RETURN_IF_ERROR(GateThread(caller, stored, "referral.thread.read"));
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::ReferralMessage> messages,
                             ReadThread(stored.referral, caller.agency()));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Record(caller, Event("referral.thread.read", stored, "")));
  v1::ReferralThread thread;
  for (v1::ReferralMessage& m : messages) *thread.add_messages() = std::move(m);
  return thread;
}

absl::StatusOr<v1::Referral> ReferralDesk::Invite(const Caller& caller,
                                                  const v1::InviteToReferralRequest& req) {
  auto invited = common::GetAgencyOr(*deps_.directory, req.agency(),
                                     absl::NotFoundError("invited agency not found"));
  if (!invited.ok()) return invited.status();
  absl::MutexLock lock(&mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFor(caller, req.referral_id(), "referral.invite"));
  v1::Referral& r = stored.referral;
  if (r.sender_agency().empty() || r.recipient_agency() != caller.agency()) {
    return absl::NotFoundError(kNotFound);
  }
  BUDSTIKKE_RETURN_IF_ERROR(GateThread(caller, stored, "referral.invite"));
  if (IsInvited(r, invited->id()) || invited->id() == caller.agency()) {
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
    return r;
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(r));
  if (!consent.has_value() || !policy::ConsentCovers(*consent, invited->id(), invited->type())) {
    return common::RecordRefusal(
        *deps_.audit, caller, Event("referral.invite", stored, ""),
        common::PolicyRefusal({{policy::kRuleConsentRecipientMismatch,
                                "the referral's consent does not name that agency or its type"}}));
  }
  // The thread so far is opened for the new reader: re-seal it.
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::ReferralMessage> messages,
                             ReadThread(r, caller.agency()));
  const absl::Time now = deps_.clock->Now();
  r.add_invited_agencies(invited->id());
  *r.mutable_update_time() = common::ToProtoTime(now);
  v1::ReferralHistoryEntry* h = r.add_history();
  *h->mutable_time() = common::ToProtoTime(now);
  h->set_status(r.status());
  *h->mutable_by() = common::ActorOf(caller);
  h->set_note(absl::StrCat("invited ", invited->id()));
  const std::vector<std::string> readers = Readers(r);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->EnsureAgencyKey(invited->id()).status());
  storage::WriteBatch batch;
  for (const v1::ReferralMessage& m : messages) {
    const std::string key = MessageKey(r.id(), m.id());
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string value,
        deps_.records->Seal(kColumnFamily, key, stored.pseudonym, m.SerializeAsString(), readers));
    batch.Put(kColumnFamily, key, value);
    for (const v1::AttachmentInfo& info : m.attachments()) {
      BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(info.id(), caller.agency()));
      BUDSTIKKE_RETURN_IF_ERROR(ResealAttachment(a, r.id(), readers, &batch));
    }
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(&batch, caller, Event("referral.invite", stored, "")));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(
      std::move(batch), {{invited->id(), v1::INBOX_EVENT_TYPE_REFERRAL_MESSAGE,
                          common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()}}));
  return r;
}

absl::StatusOr<v1::Referral> ReferralDesk::Supplement(const Caller& caller,
                                                      const v1::SupplementReferralRequest& req) {
  BUDSTIKKE_RETURN_IF_ERROR(
      ValidateText(req.text(), req.attachment_ids_size(), options_.max_attachments));
  absl::MutexLock lock(&mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored,
                             LoadFor(caller, req.referral_id(), "referral.supplement"));
  v1::Referral& r = stored.referral;
  if (r.sender_agency().empty() ||
      (r.sender_agency() != caller.agency() && r.initiating_agency() != caller.agency())) {
    return absl::NotFoundError(kNotFound);
  }
  BUDSTIKKE_RETURN_IF_ERROR(GateThread(caller, stored, "referral.supplement"));
  if (r.status() != v1::REFERRAL_STATUS_NEED_INFO) {
    return common::RecordRefusal(
        *deps_.audit, caller, Event("referral.supplement", stored, ""),
        common::PolicyRefusal(
            {{kRuleSupplementState, "only a referral in NEED_INFO can be supplemented"}}));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<StoredAttachment> attachments,
                             ClaimAttachments(caller, req.attachment_ids()));
  const absl::Time now = deps_.clock->Now();
  v1::ReferralMessage m;
  m.set_text(req.text());
  m.set_supplement(true);
  storage::WriteBatch batch;
  BUDSTIKKE_RETURN_IF_ERROR(AddMessage(caller, stored, &m, attachments, now, &batch));
  for (const v1::AttachmentInfo& info : m.attachments()) *r.add_attachments() = info;
  r.set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
  *r.mutable_update_time() = common::ToProtoTime(now);
  v1::ReferralHistoryEntry* h = r.add_history();
  *h->mutable_time() = common::ToProtoTime(now);
  h->set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
  *h->mutable_by() = common::ActorOf(caller);
  h->set_note("supplemented");
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  BUDSTIKKE_RETURN_IF_ERROR(
      deps_.audit->Add(&batch, caller, Event("referral.supplement", stored, "")));
  BUDSTIKKE_RETURN_IF_ERROR(
      deps_.Commit(std::move(batch), TellOthers(caller, r, v1::INBOX_EVENT_TYPE_REFERRAL_MESSAGE)));
  return r;
}

}  // namespace budstikke::referral
