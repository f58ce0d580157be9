// ReferralDesk::Send: validate the request -> gather the facts -> decide
// (EvaluateSend) -> build the record -> persist it with its audit event and
// inbox notice in one WriteBatch.
#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/idempotency.h"
#include "services/common/record_codec.h"
#include "services/common/text.h"
#include "services/common/time_util.h"
#include "services/referral/internal/records.h"
#include "services/referral/referral.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;
using referral_internal::EscalationKey;
using referral_internal::kAttachmentNotFound;
using referral_internal::RecordKey;
using referral_internal::RequestKey;

const std::string kSendKind = "referral.send";
const std::string kDraftKind = "referral.draft";

// Everything that can be checked from the request alone (INVALID_ARGUMENT).
absl::Status ValidateSendRequest(const v1::SendReferralRequest& req, int max_attachments,
                                 SendStage stage) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(req.request_id()));
  if (stage == SendStage::kDraft && req.cosigner_agency().empty()) {
    return absl::InvalidArgumentError("cosigner_agency is required for a draft");
  }
  if (stage == SendStage::kSend && !req.cosigner_agency().empty()) {
    return absl::InvalidArgumentError("cosigner_agency goes with Draft, not Send");
  }
  if (req.known_patient() && !req.urgent()) {
    return absl::InvalidArgumentError("known_patient goes with urgent");
  }
  if (req.recipient_agency().empty()) {
    return absl::InvalidArgumentError("recipient_agency is required");
  }
  if (req.reason().empty() || req.reason().size() > 20000) {
    return absl::InvalidArgumentError("reason is required (1-20000 bytes)");
  }
  if (common::Utf8Length(req.purpose()) > 500) {
    return absl::InvalidArgumentError("purpose: at most 500 characters");
  }
  if (!req.purpose().empty() && req.legal_basis_case() != v1::SendReferralRequest::kConsentId) {
    return absl::InvalidArgumentError(
        "purpose goes with consent_id (it names the consent's purpose)");
  }
  if (req.attachment_ids_size() > max_attachments) {
    return absl::InvalidArgumentError(absl::StrCat("attachment_ids: at most ", max_attachments));
  }
  if (req.has_parent_conversation_date()) {
    const v1::Date& d = req.parent_conversation_date();
    if (!common::IsRealDate(d.year(), d.month(), d.day())) {
      return absl::InvalidArgumentError("parent_conversation_date is not a real date");
    }
  }
  return absl::OkStatus();
}

bool DetailsFitRecipient(const v1::SendReferralRequest& req, v1::AgencyType type) {
  switch (req.details_case()) {
    case v1::SendReferralRequest::DETAILS_NOT_SET:
      return true;
    case v1::SendReferralRequest::kBup:
      return type == v1::AGENCY_TYPE_BUP;
    case v1::SendReferralRequest::kPpt:
      return type == v1::AGENCY_TYPE_PPT;
    case v1::SendReferralRequest::kChildWelfare:
      return type == v1::AGENCY_TYPE_CHILD_WELFARE;
    default:
      return false;
  }
}

void CopyDetails(const v1::SendReferralRequest& req, v1::Referral* r) {
  switch (req.details_case()) {
    case v1::SendReferralRequest::kBup:
      *r->mutable_bup() = req.bup();
      break;
    case v1::SendReferralRequest::kPpt:
      *r->mutable_ppt() = req.ppt();
      break;
    case v1::SendReferralRequest::kChildWelfare:
      *r->mutable_child_welfare() = req.child_welfare();
      break;
    default:
      break;
  }
}

}  // namespace

std::string MailboxKey(absl::string_view box, absl::string_view agency, const v1::Referral& r,
                       absl::Time at) {
  return absl::StrCat(box, "/", agency, "/", r.priority() == v1::PRIORITY_URGENT ? "!" : "",
                      common::InvertedTimeMicros(at), "/", r.id());
}

absl::StatusOr<v1::Referral> ReferralDesk::Send(const Caller& caller,
                                                const v1::SendReferralRequest& req) {
  return Submit(caller, req, SendStage::kSend);
}

absl::StatusOr<v1::Referral> ReferralDesk::Draft(const Caller& caller,
                                                 const v1::SendReferralRequest& req) {
  return Submit(caller, req, SendStage::kDraft);
}

absl::StatusOr<Route> ReferralDesk::RouteNow(const v1::Agency& requested, bool urgent,
                                             bool known_patient, absl::Time now) const {
  RouteFacts f;
  f.requested_agency = requested.id();
  f.requested_type = requested.type();
  f.acute_unit = requested.acute_unit();
  f.urgent = urgent;
  f.known_patient = known_patient;
  f.now = now;
  f.zone = options_.zone;
  Route route = RouteReferral(options_.rules, f);
  if (route.recipient_agency != requested.id()) {
    // The acute unit must still be in the directory.
    auto acute = deps_.directory->GetAgency(route.recipient_agency);
    if (absl::IsNotFound(acute.status())) return Route{requested.id(), kRoutedNoAcuteUnit};
    if (!acute.ok()) return acute.status();
  }
  return route;
}

absl::StatusOr<v1::Referral> ReferralDesk::Submit(const Caller& caller,
                                                  const v1::SendReferralRequest& req,
                                                  SendStage stage) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateSendRequest(req, options_.max_attachments, stage));
  // Synthetic ids parse; refusing them is a policy rule (EvaluateSend).
  auto nid = common::NationalId::Parse(req.subject_national_id());
  if (!nid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject_national_id: ", nid.status().message()));
  }
  auto recipient = common::GetAgencyOr(*deps_.directory, req.recipient_agency(),
                                       absl::NotFoundError("recipient agency not found"));
  if (!recipient.ok()) return recipient.status();
  if (!DetailsFitRecipient(req, recipient->type())) {
    return absl::InvalidArgumentError("details do not match the recipient's type");
  }
  std::optional<v1::Agency> cosigner;
  if (stage == SendStage::kDraft) {
    auto found = common::GetAgencyOr(*deps_.directory, req.cosigner_agency(),
                                     absl::NotFoundError("co-signer agency not found"));
    if (!found.ok()) return found.status();
    cosigner = *std::move(found);
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string pseudonym, deps_.records->Pseudonymize(nid->digits()));

  const std::string req_key = RequestKey(caller.agency(), req.request_id());
  const std::string& kind = stage == SendStage::kDraft ? kDraftKind : kSendKind;
  const std::string fingerprint = common::RequestFingerprint(kind, req);
  absl::MutexLock lock(&send_stripes_[std::hash<std::string>()(req_key) % kSendStripes]);
  // Attaching claims attachments, a change shared with other Sends.
  absl::MutexLockMaybe attach_lock(req.attachment_ids_size() > 0 ? &mu_ : nullptr);
  auto prior = deps_.store->Get(kColumnFamily, req_key);
  if (prior.ok()) return ReplaySend(caller, *prior, fingerprint, req.request_id());
  if (!absl::IsNotFound(prior.status())) return prior.status();

  // One reading of the clock: the day of the age and validity checks is the
  // day the referral is stamped with.
  const absl::Time now = deps_.clock->Now();
  BUDSTIKKE_ASSIGN_OR_RETURN(SendPlan plan,
                             GatherSendFacts(caller, req, *nid, *recipient, stage,
                                             cosigner ? &*cosigner : nullptr, pseudonym, now));
  // A draft is routed when it is co-signed (the time of sending decides).
  Route route{recipient->id(), ""};
  if (stage == SendStage::kSend) {
    BUDSTIKKE_ASSIGN_OR_RETURN(route, RouteNow(*recipient, req.urgent(), req.known_patient(), now));
  }
  Stored stored = BuildReferral(caller, req, plan, recipient->type(), route, now);
  std::vector<common::Violation> violations = EvaluateSend(options_.rules, plan.facts);
  if (!violations.empty()) {
    v1::AuditEvent e = Event(kind, stored, req.request_id());
    e.mutable_resource()->clear_id();
    return common::RecordRefusal(*deps_.audit, caller, std::move(e),
                                 common::PolicyRefusal(violations));
  }
  stored.referral.set_subject_national_id(nid->digits());
  return PersistSend(caller, req, fingerprint, std::move(stored), std::move(plan.attachments), now);
}

absl::StatusOr<v1::Referral> ReferralDesk::ReplaySend(const Caller& caller,
                                                      absl::string_view stored_request,
                                                      absl::string_view fingerprint,
                                                      const std::string& request_id) {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string id,
                             common::ReplayedId(stored_request, fingerprint, request_id));
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(id, caller.agency()));
  BUDSTIKKE_ASSIGN_OR_RETURN(ConsentOfReferral consent, ConsentOf(stored.referral));
  // A retry returns the stored referral: a read, audited first.
  BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, request_id));
  stored.referral.set_status(EffectiveStatus(stored.referral, consent));
  return std::move(stored.referral);
}

absl::StatusOr<ReferralDesk::SendPlan> ReferralDesk::GatherSendFacts(
    const Caller& caller, const v1::SendReferralRequest& req, const common::NationalId& subject,
    const v1::Agency& recipient, SendStage stage, const v1::Agency* cosigner,
    const std::string& pseudonym, absl::Time now) {
  SendPlan plan;
  SendFacts& facts = plan.facts;
  facts.stage = stage;
  facts.today = policy::DateOf(now, options_.zone);
  BUDSTIKKE_ASSIGN_OR_RETURN(const v1::AgencyType own_type,
                             common::AgencyTypeOf(*deps_.directory, caller.agency()));
  facts.initiating_agency = caller.agency();
  facts.initiating_type = own_type;
  if (cosigner != nullptr) {
    facts.sender_agency = cosigner->id();
    facts.sender_type = cosigner->type();
  } else {
    facts.sender_agency = caller.agency();
    facts.sender_role = caller.role();
    facts.sender_type = own_type;
  }
  facts.parent_demand = req.parent_demand();
  // The consent is checked against the agency the sender named: a consent
  // for a BUP clinic covers its acute unit.
  facts.recipient_agency = recipient.id();
  facts.recipient_type = recipient.type();
  facts.subject_pseudonym = pseudonym;
  facts.subject_synthetic = subject.is_synthetic();
  facts.subject_age = subject.AgeOn(facts.today);
  facts.purpose = req.purpose();
  if (req.legal_basis_case() == v1::SendReferralRequest::kConsentId) {
    auto consent = consents_->GetConsentFacts(req.consent_id());
    // A consent of another agency is as unknown as a made-up id.
    if (absl::IsNotFound(consent.status()) ||
        (consent.ok() && consent->recording_agency != caller.agency())) {
      return absl::NotFoundError("consent not found");
    }
    if (!consent.ok()) return consent.status();
    facts.consent = *std::move(consent);
  } else if (req.legal_basis_case() == v1::SendReferralRequest::kStatutoryDuty) {
    facts.statutory_duty = true;
    facts.justification = req.statutory_duty().justification();
  }
  if (req.has_parent_conversation_date()) {
    facts.parent_conversation = policy::FromProto(req.parent_conversation_date());
  }
  for (const std::string& aid : req.attachment_ids()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(aid, caller.agency()));
    if (a.owner != caller.agency() || !a.referral_id.empty()) {
      return absl::NotFoundError(kAttachmentNotFound);
    }
    if (a.info.kind() == v1::ATTACHMENT_KIND_ACTION_LOG) facts.has_action_log = true;
    plan.attachments.push_back(std::move(a));
  }
  return plan;
}

ReferralDesk::Stored ReferralDesk::BuildReferral(const Caller& caller,
                                                 const v1::SendReferralRequest& req,
                                                 const SendPlan& plan,
                                                 v1::AgencyType recipient_type, const Route& route,
                                                 absl::Time now) const {
  const SendFacts& facts = plan.facts;
  const bool draft = facts.stage == SendStage::kDraft;
  Stored stored;
  stored.pseudonym = facts.subject_pseudonym;
  v1::Referral& r = stored.referral;
  r.set_id(common::TimeOrderedId("ref-", now));
  *r.mutable_initiated_by() = common::ActorOf(caller);
  r.set_initiating_agency(caller.agency());
  if (draft) {
    r.set_cosigner_agency(req.cosigner_agency());
  } else {
    r.set_sender_agency(caller.agency());
    *r.mutable_sender() = common::ActorOf(caller);
  }
  r.set_requested_recipient(req.recipient_agency());
  r.set_recipient_agency(route.recipient_agency);
  r.set_routed_reason(route.reason);
  r.set_recipient_type(recipient_type);
  r.set_priority(req.urgent() ? v1::PRIORITY_URGENT : v1::PRIORITY_NORMAL);
  r.set_known_patient(req.known_patient());
  r.set_parent_demand(req.parent_demand());
  r.set_parents_informed(req.parents_informed());
  r.set_legal_basis(facts.consent          ? v1::LEGAL_BASIS_CONSENT
                    : facts.statutory_duty ? v1::LEGAL_BASIS_STATUTORY_DUTY
                                           : v1::LEGAL_BASIS_NONE);
  if (facts.consent) {
    r.set_consent_id(facts.consent->id);
    r.set_purpose(facts.consent->purpose);
  }
  r.set_status(draft ? v1::REFERRAL_STATUS_DRAFT : v1::REFERRAL_STATUS_SENT);
  v1::ReferralHistoryEntry* h = r.add_history();
  *h->mutable_time() = common::ToProtoTime(now);
  h->set_status(r.status());
  *h->mutable_by() = common::ActorOf(caller);
  if (!route.reason.empty()) h->set_note(absl::StrCat("routed: ", route.reason));
  if (facts.statutory_duty) *r.mutable_statutory_duty() = req.statutory_duty();
  r.set_reason(req.reason());
  if (req.has_parent_conversation_date()) {
    *r.mutable_parent_conversation_date() = req.parent_conversation_date();
  }
  CopyDetails(req, &r);
  for (const StoredAttachment& a : plan.attachments) *r.add_attachments() = a.info;
  *r.mutable_create_time() = common::ToProtoTime(now);
  *r.mutable_update_time() = common::ToProtoTime(now);
  return stored;
}

absl::StatusOr<v1::Referral> ReferralDesk::PersistSend(
    const Caller& caller, const v1::SendReferralRequest& req, const std::string& fingerprint,
    Stored stored, std::vector<StoredAttachment> attachments, absl::Time now) {
  v1::Referral& r = stored.referral;
  const bool draft = r.status() == v1::REFERRAL_STATUS_DRAFT;
  const std::vector<std::string> readers = Readers(r);
  for (const std::string& reader : readers) {
    BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->EnsureAgencyKey(reader).status());
  }
  storage::WriteBatch batch;
  for (const StoredAttachment& a : attachments) {
    BUDSTIKKE_RETURN_IF_ERROR(ResealAttachment(a, r.id(), readers, &batch));
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  batch.Put(kColumnFamily, MailboxKey("s", caller.agency(), r, now), "");
  batch.Put(kColumnFamily, RequestKey(caller.agency(), req.request_id()),
            common::RequestRecord(r.id(), fingerprint));
  std::vector<common::InboxDelivery> events;
  if (draft) {
    batch.Put(kColumnFamily, MailboxKey("c", r.cosigner_agency(), r, now), "");
    if (r.legal_basis() == v1::LEGAL_BASIS_CONSENT) {
      batch.Put(kColumnFamily,
                absl::StrCat("k/", r.consent_id(), "/", r.cosigner_agency(), "/", r.id()), "");
    }
    events.push_back({r.cosigner_agency(), v1::INBOX_EVENT_TYPE_REFERRAL_DRAFT_RECEIVED,
                      common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()});
  } else {
    AddDelivery(r, now, &batch, &events);
  }
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(
      &batch, caller, Event(draft ? kDraftKind : kSendKind, stored, req.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(std::move(batch), std::move(events)));
  return std::move(r);  // `stored` is not used again: no copy of the content
}

void ReferralDesk::AddDelivery(const v1::Referral& r, absl::Time now, storage::WriteBatch* batch,
                               std::vector<common::InboxDelivery>* events) const {
  batch->Put(kColumnFamily, MailboxKey("v", r.recipient_agency(), r, now), "");
  if (r.legal_basis() == v1::LEGAL_BASIS_CONSENT) {
    batch->Put(kColumnFamily,
               absl::StrCat("k/", r.consent_id(), "/", r.recipient_agency(), "/", r.id()), "");
  }
  if (r.priority() == v1::PRIORITY_URGENT && options_.urgent_ack > absl::ZeroDuration()) {
    batch->Put(kColumnFamily, EscalationKey(now + options_.urgent_ack, r.id()),
               r.recipient_agency());
  }
  events->push_back({r.recipient_agency(), v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED,
                     common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id()), r.priority()});
}

}  // namespace budstikke::referral
