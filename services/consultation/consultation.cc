#include "services/consultation/consultation.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/paging.h"
#include "services/common/policy/rules.h"
#include "services/common/record_codec.h"
#include "services/common/time_util.h"
#include "services/consultation/internal/records.h"
#include "storage/status_macros.h"

namespace budstikke::consultation {

using namespace consultation_internal;  // NOLINT(google-build-using-namespace)

std::vector<v1::PiiFinding> ToApiFindings(const std::vector<pii::Finding>& findings) {
  std::vector<v1::PiiFinding> out;
  out.reserve(findings.size());
  for (const pii::Finding& f : findings) {
    v1::PiiFinding p;
    p.set_id(static_cast<uint32_t>(f.id));
    switch (f.kind) {
      case pii::FindingKind::kNationalId:
        p.set_kind(v1::PII_KIND_NATIONAL_ID);
        break;
      case pii::FindingKind::kPhone:
        p.set_kind(v1::PII_KIND_PHONE);
        break;
      case pii::FindingKind::kEmail:
        p.set_kind(v1::PII_KIND_EMAIL);
        break;
      case pii::FindingKind::kName:
        p.set_kind(v1::PII_KIND_NAME);
        break;
      case pii::FindingKind::kBirthDate:
        p.set_kind(v1::PII_KIND_BIRTH_DATE);
        break;
      case pii::FindingKind::kAddress:
        p.set_kind(v1::PII_KIND_ADDRESS);
        break;
    }
    p.set_severity(f.severity == pii::Severity::kRefuse ? v1::SEVERITY_REFUSE : v1::SEVERITY_WARN);
    p.set_start(static_cast<uint32_t>(f.start));
    p.set_end(static_cast<uint32_t>(f.end));
    out.push_back(p);
  }
  return out;
}

v1::ScreeningVerdict ToApiVerdict(pii::Verdict verdict) {
  switch (verdict) {
    case pii::Verdict::kOk:
      return v1::SCREENING_VERDICT_OK;
    case pii::Verdict::kWarn:
      return v1::SCREENING_VERDICT_WARN;
    case pii::Verdict::kRefuse:
      return v1::SCREENING_VERDICT_REFUSE;
  }
  return v1::SCREENING_VERDICT_UNSPECIFIED;
}

absl::StatusOr<std::unique_ptr<Consultations>> Consultations::Create(const Deps& deps,
                                                                     const Options& options) {
  if (!deps.store || !deps.keyring || !deps.envelope || !deps.audit || !deps.directory ||
      !deps.inbox || !deps.scanner || !deps.clock) {
    return absl::InvalidArgumentError("consultations: every dependency must be set");
  }
  if (options.retention < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("consultations: retention must not be negative");
  }
  return std::unique_ptr<Consultations>(new Consultations(deps, options));
}

Consultations::~Consultations() { StopRetentionJob(); }

absl::Mutex& Consultations::StripeFor(absl::string_view key) {
  return stripes_[std::hash<std::string_view>()(std::string_view(key.data(), key.size())) %
                  stripes_.size()];
}

absl::StatusOr<v1::CheckTextResponse> Consultations::CheckText(const Caller&,
                                                               absl::string_view text) const {
  if (text.size() > options_.max_check_text_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "text must be at most ", options_.max_check_text_bytes, " bytes, got ", text.size()));
  }
  std::vector<pii::Finding> findings = d_.scanner->Scan(std::string_view(text.data(), text.size()));
  v1::CheckTextResponse resp;
  resp.set_verdict(ToApiVerdict(pii::VerdictOf(findings)));
  for (auto& f : ToApiFindings(findings)) *resp.add_findings() = std::move(f);
  return resp;
}

absl::Status Consultations::Deny(const Caller& caller, absl::Status refusal, const char* action,
                                 const std::string& resource_id, const std::string& request_id) {
  return common::RecordRefusal(*d_.audit, caller, Event(action, resource_id, request_id),
                               std::move(refusal));
}

absl::Status Consultations::RecordRead(const Caller& caller, const std::string& id,
                                       const std::string& request_id) {
  absl::Status audited = d_.audit->Record(caller, Event("consultation.read", id, request_id));
  return audited;
}

absl::Status Consultations::Screen(const Caller& caller, absl::string_view text,
                                   const google::protobuf::RepeatedField<uint32_t>& acks,
                                   const std::string& resource_id, const std::string& request_id) {
  std::vector<pii::Finding> findings = d_.scanner->Scan(std::string_view(text.data(), text.size()));
  if (findings.empty()) return absl::OkStatus();
  const std::vector<v1::PiiFinding> api = ToApiFindings(findings);
  const char* action = resource_id.empty() ? "consultation.create" : "consultation.message";
  if (pii::VerdictOf(findings) == pii::Verdict::kRefuse) {
    return Deny(
        caller,
        common::PolicyRefusal({{kRulePiiRefused,
                                "the text contains a national id, phone number or e-mail address; "
                                "remove every REFUSE finding (see findings) and send again"}},
                              api),
        action, resource_id, request_id);
  }
  std::set<uint32_t> acked(acks.begin(), acks.end());
  for (const pii::Finding& f : findings) {
    if (f.severity == pii::Severity::kWarn && !acked.count(static_cast<uint32_t>(f.id))) {
      return Deny(
          caller,
          common::PolicyRefusal({{kRulePiiUnacknowledged,
                                  "the text may identify the child (name, birth date or address); "
                                  "rewrite it or acknowledge every WARN finding by id"}},
                                api),
          action, resource_id, request_id);
    }
  }
  return absl::OkStatus();
}

absl::Status Consultations::EnsureKeys(const std::string& a, const std::string& b) {
  // Keyring::EnsureAgencyKey answers from its cache, without a write lock,
  // once the key exists.
  BUDSTIKKE_RETURN_IF_ERROR(d_.keyring->EnsureAgencyKey(a).status());
  return d_.keyring->EnsureAgencyKey(b).status();
}

absl::StatusOr<v1::Consultation> Consultations::LoadMeta(absl::string_view id) const {
  if (!WellFormedId(id)) return NotFound();
  auto value = d_.store->Get(kColumnFamily, MetaKey(id));
  if (absl::IsNotFound(value.status())) return NotFound();
  if (!value.ok()) return value.status();
  v1::Consultation meta;
  if (!meta.ParseFromString(*value)) return absl::DataLossError("malformed consultation record");
  return meta;
}

absl::StatusOr<v1::Consultation> Consultations::LoadVisible(const Caller& caller,
                                                            absl::string_view id,
                                                            const char* action) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadMeta(id));
  if (caller.agency().empty() ||
      (caller.agency() != meta.sender_agency() && caller.agency() != meta.recipient_agency())) {
    return common::RecordHiddenProbe(*d_.audit, caller, Event(action, meta.id(), ""),
                                     kRuleNotVisible, NotFound());
  }
  return meta;
}

absl::StatusOr<v1::Consultation> Consultations::LoadContent(const v1::Consultation& meta,
                                                            absl::string_view reader_agency) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed,
                             d_.store->Get(kColumnFamily, ContentKey(meta.id())));
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string plain,
      d_.envelope->Open(kColumnFamily, ContentKey(meta.id()), sealed,
                        std::string_view(reader_agency.data(), reader_agency.size())));
  v1::Consultation content;
  if (!content.ParseFromString(plain)) return absl::DataLossError("malformed consultation content");
  return content;
}

absl::Status Consultations::PutContent(storage::WriteBatch* batch, const v1::Consultation& meta,
                                       const v1::Consultation& content) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed,
                             d_.envelope->Seal(kColumnFamily, ContentKey(meta.id()),
                                               common::SerializeLongTextsUnchecked(content),
                                               {meta.sender_agency(), meta.recipient_agency()}));
  batch->Put(kColumnFamily, ContentKey(meta.id()), sealed);
  return absl::OkStatus();
}

absl::StatusOr<v1::Consultation> Consultations::Claim(const Caller& caller, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  absl::MutexLock lock(&StripeFor(id));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id, "consultation.claim"));
  const std::string sid(id);
  if (absl::Status refused = AnswererRefusal(caller, meta, "claim", "claiming"); !refused.ok()) {
    return Deny(caller, std::move(refused), "consultation.claim", sid, "");
  }
  if (meta.status() == v1::CONSULTATION_STATUS_CLOSED) {
    return Deny(caller, common::PolicyRefusal({{kRuleClosed, "the consultation is closed"}}),
                "consultation.claim", sid, "");
  }
  if (meta.status() != v1::CONSULTATION_STATUS_OPEN) {
    if (SameUser(meta.claimed_by(), caller)) {
      BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
      // A re-claim returns the content unchanged: a read, audited first.
      BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, sid, ""));
      return Merge(meta, content);
    }
    return Deny(caller,
                common::PolicyRefusal(
                    {{kRuleAlreadyClaimed, "another professional has claimed this consultation"}}),
                "consultation.claim", sid, "");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
  const auto now = common::ToProtoTime(d_.clock->Now());
  meta.set_status(v1::CONSULTATION_STATUS_CLAIMED);
  *meta.mutable_claimed_by() = common::ActorOf(caller);
  *meta.mutable_claim_time() = now;
  *meta.mutable_update_time() = now;
  storage::WriteBatch batch;
  batch.Put(kColumnFamily, MetaKey(id), meta.SerializeAsString());
  BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Add(&batch, caller, Event("consultation.claim", sid, "")));
  BUDSTIKKE_RETURN_IF_ERROR(d_.inbox->Commit(std::move(batch), {}));
  return Merge(meta, content);
}

absl::StatusOr<v1::Consultation> Consultations::Answer(const Caller& caller,
                                                       const v1::AnswerConsultationRequest& req) {
  return AppendMessage(caller, req, req.request_id(), req.id(), req.text(),
                       req.acknowledged_finding_ids(), /*is_answer=*/true);
}

absl::StatusOr<v1::Consultation> Consultations::AddMessage(
    const Caller& caller, const v1::AddConsultationMessageRequest& req) {
  return AppendMessage(caller, req, req.request_id(), req.id(), req.text(),
                       req.acknowledged_finding_ids(), /*is_answer=*/false);
}

absl::StatusOr<v1::Consultation> Consultations::AppendMessage(
    const Caller& caller, const google::protobuf::Message& request, const std::string& request_id,
    const std::string& id, const std::string& text,
    const google::protobuf::RepeatedField<uint32_t>& acks, bool is_answer) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(request_id));
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  BUDSTIKKE_RETURN_IF_ERROR(ValidateText("text", text));
  const char* action = is_answer ? "consultation.answer" : "consultation.message";
  {
    // Visibility before screening, so that the answer for a foreign id is
    // NOT_FOUND whatever the text.
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id, action));
    if (is_answer) {
      if (absl::Status refused = AnswererRefusal(caller, meta, "answer", "answering");
          !refused.ok()) {
        return Deny(caller, std::move(refused), action, id, request_id);
      }
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(Screen(caller, text, acks, id, request_id));

  const std::string qkey = RequestKey(caller.agency(), request_id);
  const std::string fingerprint = common::RequestFingerprint(action, request);

  absl::MutexLock lock(&StripeFor(id));
  // Visible (checked above; the parties of a consultation never change).
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadMeta(id));
  auto prior = d_.store->Get(kColumnFamily, qkey);
  if (prior.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string first,
                               common::ReplayedId(*prior, fingerprint, request_id));
    if (first != id) {
      return absl::AlreadyExistsError(absl::StrCat(
          "request_id '", request_id,
          "' was already used for a different request; use a new request_id for a new request"));
    }
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
    // A retry returns the content: a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, id, request_id));
    return Merge(meta, content);
  }
  if (!absl::IsNotFound(prior.status())) return prior.status();

  if (meta.status() == v1::CONSULTATION_STATUS_CLOSED) {
    return Deny(caller, common::PolicyRefusal({{kRuleClosed, "the consultation is closed"}}),
                action, id, request_id);
  }
  const auto now = common::ToProtoTime(d_.clock->Now());
  if (is_answer) {
    if (meta.status() == v1::CONSULTATION_STATUS_ANSWERED) {
      return Deny(caller,
                  common::PolicyRefusal({{kRuleAlreadyAnswered,
                                          "the consultation was already answered; use a "
                                          "message to continue the thread"}}),
                  action, id, request_id);
    }
    if (meta.status() == v1::CONSULTATION_STATUS_CLAIMED && !SameUser(meta.claimed_by(), caller)) {
      return Deny(caller,
                  common::PolicyRefusal({{kRuleAlreadyClaimed,
                                          "another professional has claimed this consultation"}}),
                  action, id, request_id);
    }
    if (meta.status() == v1::CONSULTATION_STATUS_OPEN) {
      *meta.mutable_claimed_by() = common::ActorOf(caller);
      *meta.mutable_claim_time() = now;
    }
    meta.set_status(v1::CONSULTATION_STATUS_ANSWERED);
    *meta.mutable_answer_time() = now;
  }
  *meta.mutable_update_time() = now;
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
  v1::ConsultationMessage* m = content.add_messages();
  m->set_id(RandomId());
  m->set_kind(is_answer ? v1::CONSULTATION_MESSAGE_KIND_ANSWER
                        : v1::CONSULTATION_MESSAGE_KIND_MESSAGE);
  *m->mutable_author() = common::ActorOf(caller);
  m->set_text(text);
  *m->mutable_create_time() = now;

  storage::WriteBatch batch;
  batch.Put(kColumnFamily, MetaKey(id), meta.SerializeAsString());
  BUDSTIKKE_RETURN_IF_ERROR(PutContent(&batch, meta, content));
  batch.Put(kColumnFamily, qkey, common::RequestRecord(id, fingerprint));
  batch.Put(kColumnFamily, absl::StrCat("k/", id, "/", qkey), "");
  BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Add(&batch, caller, Event(action, id, request_id)));
  common::InboxDelivery delivery;
  delivery.agency = is_answer ? meta.sender_agency() : OtherSide(meta, caller);
  delivery.type = is_answer ? v1::INBOX_EVENT_TYPE_CONSULTATION_ANSWERED
                            : v1::INBOX_EVENT_TYPE_CONSULTATION_MESSAGE;
  delivery.resource = common::Ref(v1::RESOURCE_KIND_CONSULTATION, id);
  BUDSTIKKE_RETURN_IF_ERROR(d_.inbox->Commit(std::move(batch), {delivery}));
  return Merge(meta, content);
}

absl::StatusOr<v1::Consultation> Consultations::Close(const Caller& caller, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  absl::MutexLock lock(&StripeFor(id));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id, "consultation.close"));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
  if (meta.status() == v1::CONSULTATION_STATUS_CLOSED) {
    // Already closed: returns the content unchanged, a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, std::string(id), ""));
    return Merge(meta, content);
  }
  const absl::Time now = d_.clock->Now();
  const absl::Time delete_after = now + options_.retention;
  meta.set_status(v1::CONSULTATION_STATUS_CLOSED);
  *meta.mutable_close_time() = common::ToProtoTime(now);
  *meta.mutable_update_time() = meta.close_time();
  *meta.mutable_delete_after() = common::ToProtoTime(delete_after);
  const std::string sid(id);
  storage::WriteBatch batch;
  batch.Put(kColumnFamily, MetaKey(id), meta.SerializeAsString());
  batch.Put(kColumnFamily, RetentionKey(delete_after, id), "");
  BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Add(&batch, caller, Event("consultation.close", sid, "")));
  BUDSTIKKE_RETURN_IF_ERROR(d_.inbox->Commit(
      std::move(batch), {{OtherSide(meta, caller), v1::INBOX_EVENT_TYPE_CONSULTATION_CLOSED,
                          common::Ref(v1::RESOURCE_KIND_CONSULTATION, sid)}}));
  return Merge(meta, content);
}

absl::StatusOr<v1::Consultation> Consultations::Get(const Caller& caller, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id, "consultation.read"));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
  absl::Status audited = d_.audit->Record(caller, Event("consultation.read", meta.id(), ""));
  if (!audited.ok()) return audited;
  return Merge(meta, content);
}

absl::StatusOr<ConsultationPage> Consultations::List(const Caller& caller,
                                                     const v1::ListConsultationsRequest& req) {
  if (caller.agency().empty()) return absl::PermissionDeniedError("caller has no agency");
  BUDSTIKKE_ASSIGN_OR_RETURN(int page_size, common::PageSize(req.page_size()));
  const char side = req.mailbox() == v1::MAILBOX_SENT ? 's' : 'r';
  const std::string prefix = absl::StrCat(std::string(1, side), "/", caller.agency(), "/");
  const std::set<int> statuses(req.statuses().begin(), req.statuses().end());
  ConsultationPage page;
  auto row = [&](absl::string_view rest) -> absl::StatusOr<bool> {
    auto meta = LoadMeta(rest.substr(rest.rfind('/') + 1));
    if (absl::IsNotFound(meta.status())) return false;  // deleted by retention meanwhile
    if (!meta.ok()) return meta.status();
    if (!statuses.empty() && !statuses.count(meta->status())) return false;
    page.consultations.push_back(*std::move(meta));
    return true;
  };
  BUDSTIKKE_ASSIGN_OR_RETURN(
      page.next_page_token,
      common::ScanPage(*d_.store, kColumnFamily, prefix, req.page_token(), page_size, row));
  BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Record(caller, Event("consultation.list", "", "")));
  return page;
}

}  // namespace budstikke::consultation
