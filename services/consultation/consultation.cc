#include "services/consultation/consultation.h"

#include <openssl/sha.h>

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "absl/strings/str_cat.h"
#include "services/common/errors.h"
#include "services/common/record_codec.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::consultation {
namespace {

using common::Caller;

constexpr size_t kMaxText = 10000;
constexpr int kMaxQuestions = 10;
constexpr size_t kMaxQuestion = 1000;

// 16 lowercase hex digits, zero-padded (the byte order of keys is the numeric order).
std::string Hex16(uint64_t v) { return absl::StrCat(absl::Hex(v, absl::kZeroPad16)); }

std::string RandomId() { return common::RandomHexId("", 12); }

std::string InvertedTime(absl::Time t) {
  return Hex16(~static_cast<uint64_t>(absl::ToUnixNanos(t)));
}

std::string MetaKey(absl::string_view id) { return absl::StrCat("m/", id); }
std::string ContentKey(absl::string_view id) { return absl::StrCat("t/", id); }
std::string IndexKey(char side, absl::string_view agency, const v1::Consultation& meta) {
  return absl::StrCat(std::string(1, side), "/", agency, "/",
                      InvertedTime(common::FromProtoTime(meta.create_time())), "/", meta.id());
}
std::string RequestKey(absl::string_view agency, absl::string_view request_id) {
  return absl::StrCat("q/", agency, "/", request_id);
}
std::string RetentionKey(absl::Time delete_after, absl::string_view id) {
  return absl::StrCat("x/", Hex16(static_cast<uint64_t>(absl::ToUnixSeconds(delete_after))),
                      "/", id);
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), md);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(md), sizeof(md)));
}

// Deterministic serialization: equal requests give equal fingerprints.
std::string DeterministicBytes(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// PERMISSION_DENIED carrying the rule as a violation, so that Deny() audits it.
absl::Status RoleRefusal(const char* rule, absl::string_view description) {
  v1::ErrorDetails details;
  auto* v = details.add_violations();
  v->set_rule(rule);
  v->set_description(std::string(description));
  return common::WithDetails(
      absl::PermissionDeniedError(absl::StrCat(rule, ": ", description)), details);
}

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("consultation '", id, "' not found"));
}

bool WellFormedId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))) return false;
  }
  return true;
}

absl::Status ValidateRequestId(absl::string_view request_id) {
  if (request_id.empty()) return absl::InvalidArgumentError("request_id is required");
  if (request_id.size() > 128) {
    return absl::InvalidArgumentError("request_id must be at most 128 characters");
  }
  for (char c : request_id) {
    if (c < 0x20 || c > 0x7e) {
      return absl::InvalidArgumentError("request_id must be printable ASCII");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view field, absl::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  if (text.size() > kMaxText) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxText, " bytes, got ", text.size()));
  }
  return absl::OkStatus();
}

bool IsAnswerer(v1::Role role) {
  return role == v1::ROLE_CLINICIAN || role == v1::ROLE_PSYCHOLOGIST ||
         role == v1::ROLE_PHYSICIAN || role == v1::ROLE_CHILD_WELFARE_LEADER;
}

// Who may claim and answer a consultation: a professional role of the
// recipient agency. `verb` and `gerund` name the action in the message
// ("claim" / "claiming").
absl::Status AnswererRefusal(const Caller& caller, const v1::Consultation& meta,
                             absl::string_view verb, absl::string_view gerund) {
  if (caller.agency() != meta.recipient_agency()) {
    return RoleRefusal(
        kRuleRecipientOnly,
        absl::StrCat("only a professional of the recipient agency may ", verb, " a consultation"));
  }
  if (!IsAnswerer(caller.role())) {
    return RoleRefusal(kRuleAnswererRole,
                       absl::StrCat(gerund,
                                    " needs role clinician, psychologist, physician or "
                                    "child_welfare_leader"));
  }
  return absl::OkStatus();
}

bool AnswersConsultations(v1::AgencyType type) {
  return type == v1::AGENCY_TYPE_BUP || type == v1::AGENCY_TYPE_PPT ||
         type == v1::AGENCY_TYPE_CHILD_WELFARE;
}

v1::Actor ActorOf(const Caller& caller) {
  v1::Actor a;
  a.set_agency(caller.identity.agency);
  a.set_user(caller.identity.user);
  a.set_role(caller.identity.role);
  a.set_service(caller.via_service);
  return a;
}

bool SameUser(const v1::Actor& a, const Caller& caller) {
  return a.agency() == caller.identity.agency && a.user() == caller.identity.user;
}

v1::AuditEvent Event(absl::string_view action, const std::string& id,
                     const std::string& request_id) {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_CONSULTATION, id);
  e.set_request_id(request_id);
  return e;
}

v1::Consultation Merge(const v1::Consultation& meta, const v1::Consultation& content) {
  v1::Consultation out = meta;
  out.set_text(content.text());
  *out.mutable_questions() = content.questions();
  *out.mutable_messages() = content.messages();
  return out;
}

const std::string& OtherSide(const v1::Consultation& meta, const Caller& caller) {
  return caller.agency() == meta.sender_agency() ? meta.recipient_agency()
                                                 : meta.sender_agency();
}

Caller RetentionCaller() {
  Caller c;
  c.identity.service = "consultation";
  c.via_service = "consultation";
  return c;
}

}  // namespace

std::vector<v1::PiiFinding> ToApiFindings(const std::vector<pii::Finding>& findings) {
  std::vector<v1::PiiFinding> out;
  out.reserve(findings.size());
  for (const pii::Finding& f : findings) {
    v1::PiiFinding p;
    p.set_id(static_cast<uint32_t>(f.id));
    switch (f.kind) {
      case pii::FindingKind::kNationalId: p.set_kind(v1::PII_KIND_NATIONAL_ID); break;
      case pii::FindingKind::kPhone: p.set_kind(v1::PII_KIND_PHONE); break;
      case pii::FindingKind::kEmail: p.set_kind(v1::PII_KIND_EMAIL); break;
      case pii::FindingKind::kName: p.set_kind(v1::PII_KIND_NAME); break;
      case pii::FindingKind::kBirthDate: p.set_kind(v1::PII_KIND_BIRTH_DATE); break;
      case pii::FindingKind::kAddress: p.set_kind(v1::PII_KIND_ADDRESS); break;
    }
    p.set_severity(f.severity == pii::Severity::kRefuse ? v1::SEVERITY_REFUSE
                                                        : v1::SEVERITY_WARN);
    p.set_start(static_cast<uint32_t>(f.start));
    p.set_end(static_cast<uint32_t>(f.end));
    out.push_back(p);
  }
  return out;
}

v1::ScreeningVerdict ToApiVerdict(pii::Verdict verdict) {
  switch (verdict) {
    case pii::Verdict::kOk: return v1::SCREENING_VERDICT_OK;
    case pii::Verdict::kWarn: return v1::SCREENING_VERDICT_WARN;
    case pii::Verdict::kRefuse: return v1::SCREENING_VERDICT_REFUSE;
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
  std::vector<pii::Finding> findings =
      d_.scanner->Scan(std::string_view(text.data(), text.size()));
  v1::CheckTextResponse resp;
  resp.set_verdict(ToApiVerdict(pii::VerdictOf(findings)));
  for (auto& f : ToApiFindings(findings)) *resp.add_findings() = std::move(f);
  return resp;
}

absl::Status Consultations::Deny(const Caller& caller, absl::Status refusal,
                                 const char* action, const std::string& resource_id,
                                 const std::string& request_id) {
  v1::AuditEvent e = Event(action, resource_id, request_id);
  e.set_outcome(v1::AUDIT_OUTCOME_DENIED);
  if (auto details = common::GetErrorDetails(refusal);
      details.has_value() && details->violations_size() > 0) {
    e.set_rule(details->violations(0).rule());
  }
  // No audit, no answer: a refusal that cannot be recorded is UNAVAILABLE.
  absl::Status recorded = d_.audit->Record(caller, std::move(e));
  if (!recorded.ok()) return recorded;
  return refusal;
}

absl::Status Consultations::RecordRead(const Caller& caller, const std::string& id,
                                       const std::string& request_id) {
  absl::Status audited = d_.audit->Record(caller, Event("consultation.read", id, request_id));
  return audited;
}

absl::Status Consultations::Screen(const Caller& caller, absl::string_view text,
                                   const google::protobuf::RepeatedField<uint32_t>& acks,
                                   const std::string& resource_id,
                                   const std::string& request_id) {
  std::vector<pii::Finding> findings =
      d_.scanner->Scan(std::string_view(text.data(), text.size()));
  if (findings.empty()) return absl::OkStatus();
  const std::vector<v1::PiiFinding> api = ToApiFindings(findings);
  const char* action = resource_id.empty() ? "consultation.create" : "consultation.message";
  if (pii::VerdictOf(findings) == pii::Verdict::kRefuse) {
    return Deny(caller,
                common::PolicyRefusal(
                    {{kRulePiiRefused,
                      "the text contains a national id, phone number or e-mail address; "
                      "remove every REFUSE finding (see findings) and send again"}},
                    api),
                action, resource_id, request_id);
  }
  std::set<uint32_t> acked(acks.begin(), acks.end());
  for (const pii::Finding& f : findings) {
    if (f.severity == pii::Severity::kWarn && !acked.count(static_cast<uint32_t>(f.id))) {
      return Deny(caller,
                  common::PolicyRefusal(
                      {{kRulePiiUnacknowledged,
                        "the text may identify the child (name, birth date or address); "
                        "rewrite it or acknowledge every WARN finding by id"}},
                      api),
                  action, resource_id, request_id);
    }
  }
  return absl::OkStatus();
}

absl::Status Consultations::EnsureKeys(const std::string& a, const std::string& b) {
  for (const std::string* agency : {&a, &b}) {
    {
      absl::MutexLock lock(&keys_mu_);
      if (keyed_agencies_.contains(*agency)) continue;
    }
    BUDSTIKKE_RETURN_IF_ERROR(d_.keyring->EnsureAgencyKey(*agency).status());
    absl::MutexLock lock(&keys_mu_);
    keyed_agencies_.insert(*agency);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Consultation> Consultations::LoadMeta(absl::string_view id) const {
  if (!WellFormedId(id)) return NotFound(id);
  auto value = d_.store->Get(kColumnFamily, MetaKey(id));
  if (absl::IsNotFound(value.status())) return NotFound(id);
  if (!value.ok()) return value.status();
  v1::Consultation meta;
  if (!meta.ParseFromString(*value)) return absl::DataLossError("malformed consultation record");
  return meta;
}

absl::StatusOr<v1::Consultation> Consultations::LoadVisible(const Caller& caller,
                                                            absl::string_view id) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadMeta(id));
  if (caller.agency().empty() || (caller.agency() != meta.sender_agency() &&
                                  caller.agency() != meta.recipient_agency())) {
    return NotFound(id);
  }
  return meta;
}

absl::StatusOr<v1::Consultation> Consultations::LoadContent(
    const v1::Consultation& meta, absl::string_view reader_agency) const {
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
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string sealed,
      d_.envelope->Seal(kColumnFamily, ContentKey(meta.id()),
                        common::SerializeLongTextsUnchecked(content),
                        {meta.sender_agency(), meta.recipient_agency()}));
  batch->Put(kColumnFamily, ContentKey(meta.id()), sealed);
  return absl::OkStatus();
}

absl::StatusOr<v1::Consultation> Consultations::Ask(const Caller& caller,
                                                    const v1::AskConsultationRequest& req) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateRequestId(req.request_id()));
  if (caller.agency().empty()) return absl::PermissionDeniedError("caller has no agency");
  if (req.age_band() <= v1::AGE_BAND_UNSPECIFIED || req.age_band() > v1::AgeBand_MAX) {
    return absl::InvalidArgumentError("age_band is required (0-2, 3-5, 6-9, 10-12, 13-15, 16-17)");
  }
  if (req.concerns_size() == 0) {
    return absl::InvalidArgumentError("concerns: give at least one concern");
  }
  std::set<int> seen;
  for (int c : req.concerns()) {
    if (c <= v1::CONCERN_UNSPECIFIED || c > v1::Concern_MAX) {
      return absl::InvalidArgumentError(absl::StrCat("concerns: unknown concern ", c));
    }
    if (!seen.insert(c).second) {
      return absl::InvalidArgumentError("concerns: each concern may be given once");
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(ValidateText("text", req.text()));
  if (req.questions_size() > kMaxQuestions) {
    return absl::InvalidArgumentError(
        absl::StrCat("questions: at most ", kMaxQuestions, " questions"));
  }
  std::string document = req.text();
  for (const std::string& q : req.questions()) {
    if (q.empty() || q.size() > kMaxQuestion) {
      return absl::InvalidArgumentError(
          absl::StrCat("questions: each question must be 1-", kMaxQuestion, " bytes"));
    }
    absl::StrAppend(&document, "\n", q);
  }
  if (req.recipient().target_case() == v1::ConsultationRecipient::TARGET_NOT_SET) {
    return absl::InvalidArgumentError("recipient is required (agency or by_type)");
  }

  // Screening before anything else touches the text.
  BUDSTIKKE_RETURN_IF_ERROR(
      Screen(caller, document, req.acknowledged_finding_ids(), "", req.request_id()));

  // Routing.
  v1::Agency recipient;
  if (req.recipient().target_case() == v1::ConsultationRecipient::kAgency) {
    if (req.recipient().agency().empty()) {
      return absl::InvalidArgumentError("recipient.agency is empty");
    }
    BUDSTIKKE_ASSIGN_OR_RETURN(recipient, d_.directory->GetAgency(req.recipient().agency()));
  } else {
    const auto& by = req.recipient().by_type();
    const std::string& m = by.municipality();
    if (m.size() != 4 || !std::all_of(m.begin(), m.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      return absl::InvalidArgumentError("recipient.by_type.municipality must be four digits");
    }
    if (!AnswersConsultations(by.type())) {
      return Deny(caller,
                  common::PolicyRefusal({{kRuleRecipientType,
                                          "consultations go to BUP, PPT or child welfare"}}),
                  "consultation.create", "", req.request_id());
    }
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::Agency> found,
                               d_.directory->FindAgencies(by.type(), m));
    if (found.empty()) {
      return Deny(caller,
                  common::PolicyRefusal(
                      {{kRuleNoRecipient,
                        absl::StrCat("no agency of type ", v1::AgencyType_Name(by.type()),
                                     " in municipality ", m)}}),
                  "consultation.create", "", req.request_id());
    }
    recipient = found.front();
  }
  if (!AnswersConsultations(recipient.type())) {
    return Deny(caller,
                common::PolicyRefusal({{kRuleRecipientType,
                                        absl::StrCat("agency '", recipient.id(),
                                                     "' does not answer consultations; send "
                                                     "to BUP, PPT or child welfare")}}),
                "consultation.create", "", req.request_id());
  }

  const std::string qkey = RequestKey(caller.agency(), req.request_id());
  const std::string fingerprint = Sha256Hex(absl::StrCat("ask\n", DeterministicBytes(req)));
  absl::MutexLock lock(&StripeFor(qkey));
  auto prior = d_.store->Get(kColumnFamily, qkey);
  if (prior.ok()) {
    const size_t nl = prior->find('\n');
    if (nl == std::string::npos || prior->substr(nl + 1) != fingerprint ||
        prior->substr(0, nl).empty()) {
      return absl::AlreadyExistsError("request_id was already used for a different request");
    }
    const std::string id = prior->substr(0, nl);
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id));
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
    // A retry returns the content: a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, id, req.request_id()));
    return Merge(meta, content);
  }
  if (!absl::IsNotFound(prior.status())) return prior.status();

  BUDSTIKKE_RETURN_IF_ERROR(EnsureKeys(caller.agency(), recipient.id()));
  const absl::Time now = d_.clock->Now();
  v1::Consultation meta;
  meta.set_id(common::TimeOrderedId("", now));
  meta.set_status(v1::CONSULTATION_STATUS_OPEN);
  meta.set_sender_agency(caller.agency());
  *meta.mutable_sender() = ActorOf(caller);
  meta.set_recipient_agency(recipient.id());
  meta.set_age_band(req.age_band());
  *meta.mutable_concerns() = req.concerns();
  *meta.mutable_create_time() = common::ToProtoTime(now);
  *meta.mutable_update_time() = meta.create_time();
  v1::Consultation content;
  content.set_text(req.text());
  *content.mutable_questions() = req.questions();

  storage::WriteBatch batch;
  batch.Put(kColumnFamily, MetaKey(meta.id()), meta.SerializeAsString());
  BUDSTIKKE_RETURN_IF_ERROR(PutContent(&batch, meta, content));
  batch.Put(kColumnFamily, IndexKey('s', meta.sender_agency(), meta), "");
  batch.Put(kColumnFamily, IndexKey('r', meta.recipient_agency(), meta), "");
  batch.Put(kColumnFamily, qkey, absl::StrCat(meta.id(), "\n", fingerprint));
  batch.Put(kColumnFamily, absl::StrCat("k/", meta.id(), "/", qkey), "");
  BUDSTIKKE_RETURN_IF_ERROR(
      d_.audit->Add(&batch, caller, Event("consultation.create", meta.id(), req.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(d_.inbox->Commit(
      std::move(batch),
      {{meta.recipient_agency(), v1::INBOX_EVENT_TYPE_CONSULTATION_RECEIVED,
        common::Ref(v1::RESOURCE_KIND_CONSULTATION, meta.id())}}));
  return Merge(meta, content);
}

absl::StatusOr<v1::Consultation> Consultations::Claim(const Caller& caller,
                                                      absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  absl::MutexLock lock(&StripeFor(id));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id));
  const std::string sid(id);
  if (absl::Status refused = AnswererRefusal(caller, meta, "claim", "claiming"); !refused.ok()) {
    return Deny(caller, std::move(refused), "consultation.claim", sid, "");
  }
  if (meta.status() == v1::CONSULTATION_STATUS_CLOSED) {
    return Deny(caller,
                common::PolicyRefusal({{kRuleClosed, "the consultation is closed"}}),
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
                common::PolicyRefusal({{kRuleAlreadyClaimed,
                                        "another professional has claimed this consultation"}}),
                "consultation.claim", sid, "");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
  const auto now = common::ToProtoTime(d_.clock->Now());
  meta.set_status(v1::CONSULTATION_STATUS_CLAIMED);
  *meta.mutable_claimed_by() = ActorOf(caller);
  *meta.mutable_claim_time() = now;
  *meta.mutable_update_time() = now;
  storage::WriteBatch batch;
  batch.Put(kColumnFamily, MetaKey(id), meta.SerializeAsString());
  BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Add(&batch, caller, Event("consultation.claim", sid, "")));
  BUDSTIKKE_RETURN_IF_ERROR(d_.inbox->Commit(std::move(batch), {}));
  return Merge(meta, content);
}

absl::StatusOr<v1::Consultation> Consultations::Answer(
    const Caller& caller, const v1::AnswerConsultationRequest& req) {
  return AppendMessage(caller, req.request_id(), req.id(), req.text(),
                       req.acknowledged_finding_ids(), /*is_answer=*/true);
}

absl::StatusOr<v1::Consultation> Consultations::AddMessage(
    const Caller& caller, const v1::AddConsultationMessageRequest& req) {
  return AppendMessage(caller, req.request_id(), req.id(), req.text(),
                       req.acknowledged_finding_ids(), /*is_answer=*/false);
}

absl::StatusOr<v1::Consultation> Consultations::AppendMessage(
    const Caller& caller, const std::string& request_id, const std::string& id,
    const std::string& text, const google::protobuf::RepeatedField<uint32_t>& acks,
    bool is_answer) {
  BUDSTIKKE_RETURN_IF_ERROR(ValidateRequestId(request_id));
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  BUDSTIKKE_RETURN_IF_ERROR(ValidateText("text", text));
  const char* action = is_answer ? "consultation.answer" : "consultation.message";
  {
    // Visibility before screening, so that the answer for a foreign id is
    // NOT_FOUND whatever the text.
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id));
    if (is_answer) {
      if (absl::Status refused = AnswererRefusal(caller, meta, "answer", "answering");
          !refused.ok()) {
        return Deny(caller, std::move(refused), action, id, request_id);
      }
    }
  }
  BUDSTIKKE_RETURN_IF_ERROR(Screen(caller, text, acks, id, request_id));

  const std::string qkey = RequestKey(caller.agency(), request_id);
  std::string fp_data = absl::StrCat(is_answer ? "answer" : "message", "\n", id, "\n",
                                     text.size(), "\n", text, "\n");
  for (uint32_t a : acks) absl::StrAppend(&fp_data, a, ",");
  const std::string fingerprint = Sha256Hex(fp_data);

  absl::MutexLock lock(&StripeFor(id));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id));
  auto prior = d_.store->Get(kColumnFamily, qkey);
  if (prior.ok()) {
    if (*prior != absl::StrCat(id, "\n", fingerprint)) {
      return absl::AlreadyExistsError("request_id was already used for a different request");
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
    if (meta.status() == v1::CONSULTATION_STATUS_CLAIMED &&
        !SameUser(meta.claimed_by(), caller)) {
      return Deny(caller,
                  common::PolicyRefusal({{kRuleAlreadyClaimed,
                                          "another professional has claimed this consultation"}}),
                  action, id, request_id);
    }
    if (meta.status() == v1::CONSULTATION_STATUS_OPEN) {
      *meta.mutable_claimed_by() = ActorOf(caller);
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
  *m->mutable_author() = ActorOf(caller);
  m->set_text(text);
  *m->mutable_create_time() = now;

  storage::WriteBatch batch;
  batch.Put(kColumnFamily, MetaKey(id), meta.SerializeAsString());
  BUDSTIKKE_RETURN_IF_ERROR(PutContent(&batch, meta, content));
  batch.Put(kColumnFamily, qkey, absl::StrCat(id, "\n", fingerprint));
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

absl::StatusOr<v1::Consultation> Consultations::Close(const Caller& caller,
                                                      absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  absl::MutexLock lock(&StripeFor(id));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id));
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

absl::StatusOr<v1::Consultation> Consultations::Get(const Caller& caller,
                                                    absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError("id is required");
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id));
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation content, LoadContent(meta, caller.agency()));
  absl::Status audited = d_.audit->Record(caller, Event("consultation.read", meta.id(), ""));
  if (!audited.ok()) return audited;
  return Merge(meta, content);
}

absl::StatusOr<ConsultationPage> Consultations::List(const Caller& caller,
                                                     const v1::ListConsultationsRequest& req) {
  if (caller.agency().empty()) return absl::PermissionDeniedError("caller has no agency");
  int page_size = req.page_size();
  if (page_size < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (page_size == 0) page_size = 50;
  page_size = std::min(page_size, 500);
  const char side = req.mailbox() == v1::MAILBOX_SENT ? 's' : 'r';
  const std::string prefix = absl::StrCat(std::string(1, side), "/", caller.agency(), "/");
  std::string after;
  if (!req.page_token().empty()) {
    std::string decoded;
    if (!absl::WebSafeBase64Unescape(req.page_token(), &decoded) ||
        decoded.rfind(prefix, 0) != 0) {
      return absl::InvalidArgumentError("page_token is not valid for this query");
    }
    after = decoded;
  }
  std::set<int> statuses(req.statuses().begin(), req.statuses().end());
  ConsultationPage page;
  auto it = d_.store->Scan(kColumnFamily, prefix);
  if (!after.empty()) {
    it->Seek(after);
    if (it->Valid() && it->key() == after) it->Next();
  }
  std::string last_key;
  for (; it->Valid(); it->Next()) {
    std::string_view key = it->key();
    const std::string id(key.substr(key.rfind('/') + 1));
    auto meta = LoadMeta(id);
    if (absl::IsNotFound(meta.status())) continue;
    if (!meta.ok()) return meta.status();
    if (!statuses.empty() && !statuses.count(meta->status())) continue;
    if (static_cast<int>(page.consultations.size()) == page_size) {
      page.next_page_token = absl::WebSafeBase64Escape(last_key);
      break;
    }
    page.consultations.push_back(*std::move(meta));
    last_key = std::string(key);
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  absl::Status audited = d_.audit->Record(caller, Event("consultation.list", "", ""));
  if (!audited.ok()) {
    return absl::UnavailableError(absl::StrCat("list not audited: ", audited.message()));
  }
  return page;
}

absl::StatusOr<int> Consultations::RunRetentionOnce() {
  absl::MutexLock run_lock(&retention_mu_);
  const absl::Time now = d_.clock->Now();
  std::vector<std::pair<std::string, std::string>> due;  // (x key, id)
  {
    auto it = d_.store->Scan(kColumnFamily, "x/");
    for (; it->Valid(); it->Next()) {
      std::string_view key = it->key();
      if (key.size() < 2 + 16 + 1) continue;
      uint64_t secs = std::stoull(std::string(key.substr(2, 16)), nullptr, 16);
      if (absl::FromUnixSeconds(static_cast<int64_t>(secs)) > now) break;
      due.emplace_back(std::string(key), std::string(key.substr(2 + 16 + 1)));
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  int deleted = 0;
  const Caller job = RetentionCaller();
  for (const auto& [xkey, id] : due) {
    absl::MutexLock lock(&StripeFor(id));
    storage::WriteBatch batch;
    batch.Delete(kColumnFamily, xkey);
    auto meta = LoadMeta(id);
    if (meta.ok()) {
      if (meta->status() != v1::CONSULTATION_STATUS_CLOSED ||
          common::FromProtoTime(meta->delete_after()) > now) {
        continue;
      }
      batch.Delete(kColumnFamily, MetaKey(id));
      batch.Delete(kColumnFamily, ContentKey(id));
      batch.Delete(kColumnFamily, IndexKey('s', meta->sender_agency(), *meta));
      batch.Delete(kColumnFamily, IndexKey('r', meta->recipient_agency(), *meta));
      const std::string kprefix = absl::StrCat("k/", id, "/");
      auto kit = d_.store->Scan(kColumnFamily, kprefix);
      for (; kit->Valid(); kit->Next()) {
        batch.Delete(kColumnFamily, kit->key());
        batch.Delete(kColumnFamily, kit->key().substr(kprefix.size()));
      }
      BUDSTIKKE_RETURN_IF_ERROR(kit->status());
      BUDSTIKKE_RETURN_IF_ERROR(d_.audit->Add(&batch, job, Event("consultation.delete", id, "")));
      ++deleted;
    } else if (!absl::IsNotFound(meta.status())) {
      return meta.status();
    }
    BUDSTIKKE_RETURN_IF_ERROR(d_.store->Write(std::move(batch)));
  }
  return deleted;
}

void Consultations::StartRetentionJob(absl::Duration interval) {
  if (retention_thread_.joinable()) return;
  stop_ = std::make_unique<absl::Notification>();
  retention_thread_ = std::thread([this, interval] { RetentionLoop(interval); });
}

void Consultations::StopRetentionJob() {
  if (!retention_thread_.joinable()) return;
  stop_->Notify();
  retention_thread_.join();
}

void Consultations::RetentionLoop(absl::Duration interval) {
  while (!stop_->WaitForNotificationWithTimeout(interval)) {
    (void)RunRetentionOnce();  // errors: retried next round
  }
}

}  // namespace budstikke::consultation
