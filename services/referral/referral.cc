#include "services/referral/referral.h"

#include <openssl/sha.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/errors.h"
#include "services/common/national_id.h"
#include "services/common/record_codec.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;

constexpr char kNotFound[] = "referral not found";
constexpr char kAttachmentNotFound[] = "attachment not found";
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 500;

using common::Frame;
using common::Unframe;
std::string NewId(absl::string_view prefix, absl::Time now) {
  return common::TimeOrderedId(prefix, now);
}
std::string InvertedTime(absl::Time t) { return common::InvertedTimeMicros(t); }

std::string RecordKey(absl::string_view id) { return absl::StrCat("r/", id); }
std::string AttachmentKey(absl::string_view id) { return absl::StrCat("a/", id); }
std::string ChunkKey(absl::string_view id, size_t index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06zu", index);
  return absl::StrCat("d/", id, "/", buf);
}

// An allowed action on an attachment before it belongs to a referral (no
// subject, no legal basis yet).
v1::AuditEvent AttachmentEvent(const char* action, const std::string& attachment_id,
                               const std::string& request_id) {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_ATTACHMENT, attachment_id);
  e.set_request_id(request_id);
  return e;
}

v1::Actor ActorOf(const Caller& caller) {
  v1::Actor a;
  a.set_agency(caller.identity.agency);
  a.set_user(caller.identity.user);
  a.set_role(caller.identity.role);
  a.set_service(caller.via_service);
  return a;
}

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
  return s;
}

size_t CountUtf8(absl::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

bool IsDecided(v1::ReferralStatus s) {
  return s == v1::REFERRAL_STATUS_ACCEPTED || s == v1::REFERRAL_STATUS_REJECTED;
}

const char* const kAllowedTypes[] = {
    "application/pdf",
    "text/plain",
    "image/png",
    "image/jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.oasis.opendocument.text",
};

bool ValidUtf8NoNul(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) return false;
    int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
    if (extra < 0 || i + extra >= s.size() + (extra == 0 ? 1 : 0)) {
      if (extra != 0) return false;
    }
    for (int k = 1; k <= extra; ++k) {
      if (i + k >= s.size()) return false;
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += extra + 1;
  }
  return true;
}

}  // namespace

absl::Status CheckContentPrefix(absl::string_view type, absl::string_view p) {
  // Executables are refused whatever the declared type.
  if (absl::StartsWith(p, "MZ") || absl::StartsWith(p, "\177ELF") || absl::StartsWith(p, "#!") ||
      absl::StartsWith(p, "\xcf\xfa\xed\xfe") || absl::StartsWith(p, "\xfe\xed\xfa\xcf") ||
      absl::StartsWith(p, "\xca\xfe\xba\xbe")) {
    return absl::InvalidArgumentError("attachment content is an executable; not allowed");
  }
  bool ok = true;
  if (type == "application/pdf") {
    ok = absl::StartsWith(p, "%PDF-");
  } else if (type == "image/png") {
    ok = absl::StartsWith(p, absl::string_view("\x89PNG\r\n\x1a\n", 8));
  } else if (type == "image/jpeg") {
    ok = absl::StartsWith(p, "\xff\xd8\xff");
  } else if (type == "text/plain") {
    ok = p.find('\0') == absl::string_view::npos;
  } else if (absl::StartsWith(type, "application/vnd.")) {
    ok = absl::StartsWith(p, absl::string_view("PK\x03\x04", 4));
  } else {
    ok = false;
  }
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("attachment content does not match content_type ", type));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// Construction and storage helpers.

ReferralDesk::ReferralDesk(storage::Store* store, storage::Keyring* keyring,
                           std::unique_ptr<storage::Envelope> envelope,
                           std::unique_ptr<storage::Pseudonymizer> pseudonymizer,
                           common::AuditOutbox* audit, common::InboxWriter* inbox,
                           const common::AgencyLookup* directory,
                           const common::ConsentChecker* consents, const common::Clock* clock,
                           ReferralOptions options)
    : store_(store),
      keyring_(keyring),
      envelope_(std::move(envelope)),
      pseudonymizer_(std::move(pseudonymizer)),
      audit_(audit),
      inbox_(inbox),
      directory_(directory),
      consents_(consents),
      clock_(clock),
      options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<ReferralDesk>> ReferralDesk::Create(
    storage::Store* store, storage::Keyring* keyring, common::AuditOutbox* audit,
    common::InboxWriter* inbox, const common::AgencyLookup* directory,
    const common::ConsentChecker* consents, const common::Clock* clock, ReferralOptions options) {
  BUDSTIKKE_ASSIGN_OR_RETURN(auto envelope, storage::Envelope::Create(keyring));
  BUDSTIKKE_ASSIGN_OR_RETURN(auto pseudonymizer, storage::Pseudonymizer::Create(*keyring));
  return std::unique_ptr<ReferralDesk>(
      new ReferralDesk(store, keyring, std::move(envelope), std::move(pseudonymizer), audit, inbox,
                       directory, consents, clock, std::move(options)));
}

absl::Status ReferralDesk::Commit(storage::WriteBatch batch,
                                  std::vector<common::InboxDelivery> events) {
  if (inbox_ != nullptr) return inbox_->Commit(std::move(batch), events);
  return store_->Write(std::move(batch));
}

absl::StatusOr<ReferralDesk::Stored> ReferralDesk::Load(absl::string_view id,
                                                        absl::string_view agency) const {
  if (id.empty() || id.size() > 128 || agency.empty()) return absl::NotFoundError(kNotFound);
  const std::string key = RecordKey(id);
  auto value = store_->Get(kColumnFamily, key);
  if (absl::IsNotFound(value.status())) return absl::NotFoundError(kNotFound);
  if (!value.ok()) return value.status();
  Stored stored;
  std::string sealed;
  if (!Unframe(*value, &stored.pseudonym, &sealed)) {
    return absl::DataLossError("referral record is malformed");
  }
  auto plain =
      envelope_->Open(kColumnFamily, key, sealed, std::string_view(agency.data(), agency.size()));
  // Not a reader: the same answer as a made-up id.
  if (absl::IsPermissionDenied(plain.status())) return absl::NotFoundError(kNotFound);
  if (!plain.ok()) return plain.status();
  if (!stored.referral.ParseFromString(*plain)) {
    return absl::DataLossError("referral record does not parse");
  }
  return stored;
}

absl::StatusOr<std::string> ReferralDesk::Encode(const Stored& stored) const {
  const v1::Referral& r = stored.referral;
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string sealed,
      envelope_->Seal(kColumnFamily, RecordKey(r.id()), common::SerializeLongTextsUnchecked(r),
                      {r.sender_agency(), r.recipient_agency()}));
  return Frame(stored.pseudonym, sealed);
}

absl::StatusOr<ReferralDesk::StoredAttachment> ReferralDesk::LoadAttachment(
    absl::string_view id, absl::string_view agency) const {
  if (id.empty() || id.size() > 128) return absl::NotFoundError(kAttachmentNotFound);
  const std::string key = AttachmentKey(id);
  auto value = store_->Get(kAttachmentColumnFamily, key);
  if (absl::IsNotFound(value.status())) return absl::NotFoundError(kAttachmentNotFound);
  if (!value.ok()) return value.status();
  StoredAttachment a;
  std::string rest, sealed;
  if (!Unframe(*value, &a.owner, &rest) || !Unframe(rest, &a.referral_id, &sealed)) {
    return absl::DataLossError("attachment record is malformed");
  }
  auto plain = envelope_->Open(kAttachmentColumnFamily, key, sealed,
                               std::string_view(agency.data(), agency.size()));
  if (absl::IsPermissionDenied(plain.status())) return absl::NotFoundError(kAttachmentNotFound);
  if (!plain.ok()) return plain.status();
  if (!a.info.ParseFromString(*plain)) return absl::DataLossError("attachment does not parse");
  return a;
}

v1::ReferralStatus ReferralDesk::EffectiveStatus(const v1::Referral& r) const {
  if (r.status() == v1::REFERRAL_STATUS_SENT && r.legal_basis() == v1::LEGAL_BASIS_CONSENT) {
    auto facts = consents_->GetConsentFacts(r.consent_id());
    if (!facts.ok() || facts->revoked) return v1::REFERRAL_STATUS_WITHDRAWN;
  }
  return r.status();
}

absl::Status ReferralDesk::RecipientGate(const v1::Referral& r, bool further) const {
  const bool acknowledged = r.status() == v1::REFERRAL_STATUS_ACKNOWLEDGED ||
                            r.status() == v1::REFERRAL_STATUS_ACCEPTED ||
                            r.status() == v1::REFERRAL_STATUS_REJECTED ||
                            r.status() == v1::REFERRAL_STATUS_NEED_INFO;
  if (r.legal_basis() == v1::LEGAL_BASIS_CONSENT &&
      (r.status() == v1::REFERRAL_STATUS_SENT || r.status() == v1::REFERRAL_STATUS_WITHDRAWN ||
       further)) {
    // A fresh read: once Revoke has returned, this sees it.
    auto facts = consents_->GetConsentFacts(r.consent_id());
    if (!facts.ok() && !absl::IsNotFound(facts.status())) return facts.status();
    if (!facts.ok() || facts->revoked) {
      return common::PolicyRefusal(
          {{kRuleConsentRevoked, "the consent for this referral was revoked"}});
    }
    if (FromProto(facts->valid_until) < Today() && (!acknowledged || further)) {
      return common::PolicyRefusal(
          {{kRuleConsentExpired, "the consent for this referral has expired"}});
    }
  }
  if (r.status() == v1::REFERRAL_STATUS_WITHDRAWN) {
    return common::PolicyRefusal({{kRuleWithdrawn, "the referral was withdrawn by the sender"}});
  }
  return absl::OkStatus();
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
  return e;
}

absl::Status ReferralDesk::RecordRead(const Caller& caller, const Stored& stored,
                                      const std::string& request_id) {
  absl::Status recorded = audit_->Record(caller, Event("referral.read", stored, request_id));
  return recorded;
}

absl::Status ReferralDesk::Deny(const Caller& caller, v1::AuditEvent event, absl::Status refusal) {
  event.set_outcome(v1::AUDIT_OUTCOME_DENIED);
  std::vector<std::string> rules;
  if (auto details = common::GetErrorDetails(refusal)) {
    for (const auto& v : details->violations()) rules.push_back(v.rule());
  }
  event.set_rule(absl::StrJoin(rules, ","));
  absl::Status recorded = audit_->Record(caller, std::move(event));
  if (!recorded.ok()) return recorded;
  return refusal;
}

// ---------------------------------------------------------------------------
// Send.

absl::StatusOr<v1::Referral> ReferralDesk::Send(const Caller& caller,
                                                const v1::SendReferralRequest& req) {
  if (req.request_id().empty() || req.request_id().size() > 128) {
    return absl::InvalidArgumentError("request_id is required (1-128 characters)");
  }
  if (req.recipient_agency().empty()) {
    return absl::InvalidArgumentError("recipient_agency is required");
  }
  // Synthetic ids parse; refusing them is a policy rule (EvaluateSend).
  auto nid = common::NationalId::Parse(req.subject_national_id());
  if (!nid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject_national_id: ", nid.status().message()));
  }
  if (req.reason().empty() || req.reason().size() > 20000) {
    return absl::InvalidArgumentError("reason is required (1-20000 bytes)");
  }
  if (CountUtf8(req.purpose()) > 500) {
    return absl::InvalidArgumentError("purpose: at most 500 characters");
  }
  if (!req.purpose().empty() && req.legal_basis_case() != v1::SendReferralRequest::kConsentId) {
    return absl::InvalidArgumentError(
        "purpose goes with consent_id (it names the consent's purpose)");
  }
  if (req.attachment_ids_size() > options_.max_attachments) {
    return absl::InvalidArgumentError(
        absl::StrCat("attachment_ids: at most ", options_.max_attachments));
  }
  if (req.has_parent_conversation_date()) {
    const v1::Date& d = req.parent_conversation_date();
    if (!common::IsRealDate(d.year(), d.month(), d.day())) {
      return absl::InvalidArgumentError("parent_conversation_date is not a real date");
    }
  }
  auto recipient = directory_->GetAgency(req.recipient_agency());
  if (!recipient.ok()) {
    return absl::NotFoundError("recipient agency not found");
  }
  const v1::AgencyType rtype = recipient->type();
  const bool details_ok =
      req.details_case() == v1::SendReferralRequest::DETAILS_NOT_SET ||
      (req.details_case() == v1::SendReferralRequest::kBup && rtype == v1::AGENCY_TYPE_BUP) ||
      (req.details_case() == v1::SendReferralRequest::kPpt && rtype == v1::AGENCY_TYPE_PPT) ||
      (req.details_case() == v1::SendReferralRequest::kChildWelfare &&
       rtype == v1::AGENCY_TYPE_CHILD_WELFARE);
  if (!details_ok) {
    return absl::InvalidArgumentError("details do not match the recipient's type");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string pseudonym, pseudonymizer_->Pseudonymize(nid->digits()));

  const std::string req_key = absl::StrCat("q/", caller.agency(), "/", req.request_id());
  absl::MutexLock lock(&send_stripes_[std::hash<std::string>()(req_key) % kSendStripes]);
  // Attaching claims attachments, a change shared with other Sends.
  struct OptionalLock {
    explicit OptionalLock(absl::Mutex* m) : mu(m) {
      if (mu) mu->Lock();
    }
    ~OptionalLock() {
      if (mu) mu->Unlock();
    }
    absl::Mutex* mu;
  } attach_lock(req.attachment_ids_size() > 0 ? &mu_ : nullptr);
  auto existing = store_->Get(kColumnFamily, req_key);
  if (existing.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(*existing, caller.agency()));
    // A retry returns the stored referral: a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, req.request_id()));
    stored.referral.set_status(EffectiveStatus(stored.referral));
    return stored.referral;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();

  // One reading of the clock: the day of the age and validity checks is the
  // day the referral is stamped with.
  const absl::Time now = clock_->Now();
  const CivilDate today = DateOf(now, options_.zone);
  SendFacts facts;
  facts.sender_agency = caller.agency();
  facts.sender_role = caller.role();
  facts.recipient_agency = req.recipient_agency();
  facts.recipient_type = rtype;
  facts.subject_pseudonym = pseudonym;
  facts.subject_synthetic = nid->is_synthetic();
  facts.purpose = req.purpose();
  facts.subject_age = nid->AgeOn(today.year, today.month, today.day);
  facts.today = today;
  if (req.legal_basis_case() == v1::SendReferralRequest::kConsentId) {
    auto consent = consents_->GetConsentFacts(req.consent_id());
    // A consent of another agency is as unknown as a made-up id.
    if (absl::IsNotFound(consent.status()) ||
        (consent.ok() && consent->recording_agency != caller.agency())) {
      return absl::NotFoundError("consent not found");
    }
    if (!consent.ok()) return consent.status();
    facts.consent = *consent;
  } else if (req.legal_basis_case() == v1::SendReferralRequest::kStatutoryDuty) {
    facts.statutory_duty = true;
    facts.justification = req.statutory_duty().justification();
  }
  if (req.has_parent_conversation_date()) {
    facts.parent_conversation = FromProto(req.parent_conversation_date());
  }
  std::vector<StoredAttachment> attachments;
  for (const std::string& aid : req.attachment_ids()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(aid, caller.agency()));
    if (a.owner != caller.agency() || !a.referral_id.empty()) {
      return absl::NotFoundError(kAttachmentNotFound);
    }
    if (a.info.kind() == v1::ATTACHMENT_KIND_ACTION_LOG) facts.has_action_log = true;
    attachments.push_back(std::move(a));
  }

  Stored stored;
  stored.pseudonym = pseudonym;
  v1::Referral& r = stored.referral;
  r.set_id(NewId("ref-", now));
  r.set_sender_agency(caller.agency());
  *r.mutable_sender() = ActorOf(caller);
  r.set_recipient_agency(req.recipient_agency());
  r.set_recipient_type(rtype);
  r.set_legal_basis(facts.consent          ? v1::LEGAL_BASIS_CONSENT
                    : facts.statutory_duty ? v1::LEGAL_BASIS_STATUTORY_DUTY
                                           : v1::LEGAL_BASIS_NONE);
  if (facts.consent) {
    r.set_consent_id(facts.consent->id);
    r.set_purpose(facts.consent->purpose);
  }

  std::vector<common::Violation> violations = EvaluateSend(options_.rules, facts);
  if (!violations.empty()) {
    v1::AuditEvent e = Event("referral.send", stored, req.request_id());
    e.mutable_resource()->clear_id();
    return Deny(caller, std::move(e), common::PolicyRefusal(violations));
  }

  BUDSTIKKE_RETURN_IF_ERROR(keyring_->EnsureAgencyKey(caller.agency()).status());
  BUDSTIKKE_RETURN_IF_ERROR(keyring_->EnsureAgencyKey(req.recipient_agency()).status());
  r.set_status(v1::REFERRAL_STATUS_SENT);
  r.set_subject_national_id(nid->digits());
  if (facts.statutory_duty) *r.mutable_statutory_duty() = req.statutory_duty();
  r.set_reason(req.reason());
  if (req.has_parent_conversation_date()) {
    *r.mutable_parent_conversation_date() = req.parent_conversation_date();
  }
  switch (req.details_case()) {
    case v1::SendReferralRequest::kBup:
      *r.mutable_bup() = req.bup();
      break;
    case v1::SendReferralRequest::kPpt:
      *r.mutable_ppt() = req.ppt();
      break;
    case v1::SendReferralRequest::kChildWelfare:
      *r.mutable_child_welfare() = req.child_welfare();
      break;
    default:
      break;
  }
  *r.mutable_create_time() = common::ToProtoTime(now);
  *r.mutable_update_time() = common::ToProtoTime(now);

  storage::WriteBatch batch;
  const std::vector<std::string> readers = {caller.agency(), req.recipient_agency()};
  for (StoredAttachment& a : attachments) {
    *r.add_attachments() = a.info;
    // Re-seal the info and every chunk for sender + recipient.
    const std::string akey = AttachmentKey(a.info.id());
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string sealed_info,
        envelope_->Seal(kAttachmentColumnFamily, akey, a.info.SerializeAsString(), readers));
    batch.Put(kAttachmentColumnFamily, akey, Frame(a.owner, Frame(r.id(), sealed_info)));
    const size_t chunk = options_.max_chunk_bytes;
    const size_t chunks = a.info.size() == 0 ? 0 : (a.info.size() + chunk - 1) / chunk;
    for (size_t i = 0; i < chunks; ++i) {
      const std::string ckey = ChunkKey(a.info.id(), i);
      BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed, store_->Get(kAttachmentColumnFamily, ckey));
      BUDSTIKKE_ASSIGN_OR_RETURN(std::string plain,
                                 envelope_->Open(kAttachmentColumnFamily, ckey, sealed, a.owner));
      BUDSTIKKE_ASSIGN_OR_RETURN(std::string resealed,
                                 envelope_->Seal(kAttachmentColumnFamily, ckey, plain, readers));
      batch.Put(kAttachmentColumnFamily, ckey, resealed);
    }
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  const std::string inv = InvertedTime(now);
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  batch.Put(kColumnFamily, absl::StrCat("s/", caller.agency(), "/", inv, "/", r.id()), "");
  batch.Put(kColumnFamily, absl::StrCat("v/", r.recipient_agency(), "/", inv, "/", r.id()), "");
  batch.Put(kColumnFamily, req_key, r.id());
  if (facts.consent) {
    batch.Put(kColumnFamily,
              absl::StrCat("k/", r.consent_id(), "/", r.recipient_agency(), "/", r.id()), "");
  }
  BUDSTIKKE_RETURN_IF_ERROR(
      audit_->Add(&batch, caller, Event("referral.send", stored, req.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(
      Commit(std::move(batch), {{r.recipient_agency(), v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED,
                                 common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id())}}));
  return std::move(r);  // `stored` is not used again: no copy of the content
}

// ---------------------------------------------------------------------------
// Reads.

absl::StatusOr<v1::Referral> ReferralDesk::Get(const Caller& caller, absl::string_view id) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(id, caller.agency()));
  v1::Referral& r = stored.referral;
  if (r.recipient_agency() == caller.agency() && r.sender_agency() != caller.agency()) {
    absl::Status gate = RecipientGate(r, /*further=*/false);
    if (!gate.ok()) {
      if (gate.code() != absl::StatusCode::kFailedPrecondition) return gate;
      return Deny(caller, Event("referral.read", stored, ""), gate);
    }
  }
  absl::Status recorded = audit_->Record(caller, Event("referral.read", stored, ""));
  if (!recorded.ok()) return recorded;
  r.set_status(EffectiveStatus(r));
  return r;
}

absl::StatusOr<v1::ListReferralsResponse> ReferralDesk::List(const Caller& caller,
                                                             const v1::ListReferralsRequest& req) {
  int page_size = req.page_size() <= 0 ? kDefaultPageSize : req.page_size();
  if (page_size > kMaxPageSize) page_size = kMaxPageSize;
  const bool sent = req.mailbox() == v1::MAILBOX_SENT;
  const std::string prefix = absl::StrCat(sent ? "s/" : "v/", caller.agency(), "/");
  auto it = store_->Scan(kColumnFamily, prefix);
  if (!req.page_token().empty()) it->Seek(absl::StrCat(prefix, req.page_token()));
  v1::ListReferralsResponse resp;
  for (; it->Valid(); it->Next()) {
    std::string_view rest = it->key().substr(prefix.size());
    if (resp.referrals_size() >= page_size) {
      resp.set_next_page_token(std::string(rest));
      break;
    }
    const std::string id(rest.substr(rest.rfind('/') + 1));
    auto loaded = Load(id, caller.agency());
    // Sealed under a key version that was shredded: unreadable for good, so
    // the page lists the readable ones instead of failing forever.
    if (absl::IsFailedPrecondition(loaded.status())) continue;
    if (!loaded.ok()) return loaded.status();
    Stored& stored = *loaded;
    v1::Referral s = Summary(stored.referral);
    s.set_status(EffectiveStatus(stored.referral));
    if (req.statuses_size() > 0) {
      bool match = false;
      for (int st : req.statuses()) match |= st == s.status();
      if (!match) continue;
    }
    *resp.add_referrals() = std::move(s);
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  absl::Status recorded =
      audit_->Record(caller, common::AllowedEvent("referral.list", v1::RESOURCE_KIND_REFERRAL, ""));
  if (!recorded.ok()) return recorded;
  return resp;
}

// ---------------------------------------------------------------------------
// Transitions.

absl::StatusOr<v1::Referral> ReferralDesk::Transition(
    const Caller& caller, absl::string_view id, bool as_recipient, const std::string& action,
    const std::function<absl::StatusOr<bool>(v1::Referral*)>& change,
    v1::InboxEventType event_type) {
  absl::MutexLock lock(&mu_);
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(id, caller.agency()));
  v1::Referral& r = stored.referral;
  if ((as_recipient ? r.recipient_agency() : r.sender_agency()) != caller.agency()) {
    return absl::NotFoundError(kNotFound);
  }
  if (as_recipient && r.status() != v1::REFERRAL_STATUS_WITHDRAWN) {
    absl::Status gate = RecipientGate(r, /*further=*/false);
    if (!gate.ok()) {
      if (gate.code() != absl::StatusCode::kFailedPrecondition) return gate;
      return Deny(caller, Event(action, stored, ""), gate);
    }
  }
  auto changed = change(&r);
  if (!changed.ok()) {
    if (changed.status().code() == absl::StatusCode::kFailedPrecondition) {
      return Deny(caller, Event(action, stored, ""), changed.status());
    }
    return changed.status();
  }
  if (!*changed) {
    // Idempotent no-op: returns the referral, so it is a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
    return r;
  }
  *r.mutable_update_time() = common::ToProtoTime(clock_->Now());
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
  storage::WriteBatch batch;
  batch.Put(kColumnFamily, RecordKey(r.id()), value);
  BUDSTIKKE_RETURN_IF_ERROR(audit_->Add(&batch, caller, Event(action, stored, "")));
  const std::string& notify = as_recipient ? r.sender_agency() : r.recipient_agency();
  BUDSTIKKE_RETURN_IF_ERROR(Commit(
      std::move(batch), {{notify, event_type, common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id())}}));
  return r;
}

absl::StatusOr<v1::Referral> ReferralDesk::Acknowledge(const Caller& caller, absl::string_view id) {
  const absl::Time now = clock_->Now();
  return Transition(
      caller, id, /*as_recipient=*/true, "referral.acknowledge",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        if (r->status() == v1::REFERRAL_STATUS_WITHDRAWN) {
          return common::PolicyRefusal({{kRuleWithdrawn, "the referral was withdrawn"}});
        }
        if (r->status() != v1::REFERRAL_STATUS_SENT) return false;
        r->set_status(v1::REFERRAL_STATUS_ACKNOWLEDGED);
        *r->mutable_acknowledged_by() = ActorOf(caller);
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
  const absl::Time now = clock_->Now();
  return Transition(
      caller, req.id(), /*as_recipient=*/true, "referral.decide",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        if (r->status() == v1::REFERRAL_STATUS_WITHDRAWN) {
          return common::PolicyRefusal({{kRuleWithdrawn, "the referral was withdrawn"}});
        }
        if (IsDecided(r->status())) {
          return common::PolicyRefusal(
              {{kRuleAlreadyDecided, "the referral was already accepted or rejected"}});
        }
        if (r->status() == v1::REFERRAL_STATUS_SENT) {
          *r->mutable_acknowledged_by() = ActorOf(caller);
          *r->mutable_acknowledge_time() = common::ToProtoTime(now);
        }
        r->set_status(target);
        r->set_decision_reason(req.reason());
        *r->mutable_decided_by() = ActorOf(caller);
        *r->mutable_decide_time() = common::ToProtoTime(now);
        return true;
      },
      v1::INBOX_EVENT_TYPE_REFERRAL_STATUS_CHANGED);
}

absl::StatusOr<v1::Referral> ReferralDesk::Withdraw(const Caller& caller,
                                                    const v1::WithdrawReferralRequest& req) {
  if (req.reason().size() > 5000) return absl::InvalidArgumentError("reason: at most 5000 bytes");
  const absl::Time now = clock_->Now();
  return Transition(
      caller, req.id(), /*as_recipient=*/false, "referral.withdraw",
      [&](v1::Referral* r) -> absl::StatusOr<bool> {
        if (r->status() == v1::REFERRAL_STATUS_WITHDRAWN) return false;
        if (IsDecided(r->status())) {
          return common::PolicyRefusal(
              {{kRuleAlreadyDecided, "the referral was already accepted or rejected"}});
        }
        r->set_status(v1::REFERRAL_STATUS_WITHDRAWN);
        *r->mutable_withdraw_time() = common::ToProtoTime(now);
        return true;
      },
      v1::INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN);
}

// ---------------------------------------------------------------------------
// ConsentObserver.

absl::StatusOr<bool> ReferralDesk::ReceivedUnderConsent(absl::string_view consent_id,
                                                        absl::string_view agency) const {
  if (consent_id.empty() || agency.empty()) return false;
  auto it = store_->Scan(kColumnFamily, absl::StrCat("k/", consent_id, "/", agency, "/"));
  const bool any = it->Valid();
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return any;
}

absl::Status ReferralDesk::OnConsentRevoked(const Caller& caller,
                                            const common::ConsentFacts& consent) {
  absl::MutexLock lock(&mu_);
  const std::string prefix = absl::StrCat("k/", consent.id, "/");
  const absl::Time now = clock_->Now();
  // Each referral is withdrawn in its own batch: a failure on one is kept
  // (the first is returned at the end) and the others are still withdrawn.
  // Idempotent, so a repeated Revoke finishes a fan-out that failed part-way.
  absl::Status first_error;
  auto it = store_->Scan(kColumnFamily, prefix);
  for (; it->Valid(); it->Next()) {
    std::string_view rest = it->key().substr(prefix.size());
    const std::string id(rest.substr(rest.rfind('/') + 1));
    absl::Status s = WithdrawUnderRevokedConsent(caller, consent, id, now);
    if (!s.ok() && first_error.ok()) first_error = s;
  }
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  return first_error;
}

absl::Status ReferralDesk::WithdrawUnderRevokedConsent(const Caller& caller,
                                                       const common::ConsentFacts& consent,
                                                       const std::string& id, absl::Time now) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(id, consent.recording_agency));
  v1::Referral& r = stored.referral;
  storage::WriteBatch batch;
  std::vector<common::InboxDelivery> events;
  if (!(consent.recipient.target_case() == v1::ConsentRecipient::kAgency &&
        consent.recipient.agency() == r.recipient_agency())) {
    // The consent service notified the recording and the named agency; any
    // other recipient is notified once (marker in the same batch).
    const std::string marker = absl::StrCat("n/", consent.id, "/", r.recipient_agency());
    auto seen = store_->Get(kColumnFamily, marker);
    if (!seen.ok() && !absl::IsNotFound(seen.status())) return seen.status();
    if (absl::IsNotFound(seen.status())) {
      batch.Put(kColumnFamily, marker, "");
      events.push_back({r.recipient_agency(), v1::INBOX_EVENT_TYPE_CONSENT_REVOKED,
                        common::Ref(v1::RESOURCE_KIND_CONSENT, consent.id)});
    }
  }
  if (r.status() == v1::REFERRAL_STATUS_SENT) {
    r.set_status(v1::REFERRAL_STATUS_WITHDRAWN);
    *r.mutable_withdraw_time() = common::ToProtoTime(now);
    *r.mutable_update_time() = common::ToProtoTime(now);
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Encode(stored));
    batch.Put(kColumnFamily, RecordKey(r.id()), value);
    BUDSTIKKE_RETURN_IF_ERROR(audit_->Add(&batch, caller, Event("referral.withdraw", stored, "")));
    events.push_back({r.recipient_agency(), v1::INBOX_EVENT_TYPE_REFERRAL_WITHDRAWN,
                      common::Ref(v1::RESOURCE_KIND_REFERRAL, r.id())});
  }
  if (batch.Count() == 0 && events.empty()) return absl::OkStatus();
  return Commit(std::move(batch), std::move(events));
}

// ---------------------------------------------------------------------------
// Attachments.

absl::Status ReferralDesk::RecordAttachmentRead(const Caller& caller,
                                                const v1::AttachmentInfo& info,
                                                const std::string& request_id) {
  absl::Status recorded =
      audit_->Record(caller, AttachmentEvent("attachment.read", info.id(), request_id));
  return recorded;
}

absl::StatusOr<std::unique_ptr<AttachmentUpload>> ReferralDesk::BeginUpload(
    const Caller& caller, const v1::AttachmentMetadata& m) {
  if (m.request_id().empty() || m.request_id().size() > 128) {
    return absl::InvalidArgumentError("metadata.request_id is required (1-128 characters)");
  }
  if (m.filename().empty() || m.filename().size() > 255 ||
      m.filename().find_first_of(std::string("/\\\0", 3)) != std::string::npos ||
      m.filename() == "." || m.filename() == "..") {
    return absl::InvalidArgumentError("metadata.filename must be a base name of 1-255 bytes");
  }
  bool type_ok = false;
  for (const char* t : kAllowedTypes) type_ok |= m.content_type() == t;
  if (!type_ok) {
    return absl::InvalidArgumentError(
        "metadata.content_type must be application/pdf, text/plain, image/png, image/jpeg, "
        "DOCX or ODT");
  }
  if (m.kind() != v1::ATTACHMENT_KIND_ACTION_LOG && m.kind() != v1::ATTACHMENT_KIND_OTHER) {
    return absl::InvalidArgumentError("metadata.kind must be ACTION_LOG or OTHER");
  }
  if (m.size() > options_.max_attachment_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("metadata.size: attachment too large (at most ",
                                                   options_.max_attachment_bytes, " bytes)"));
  }
  if (m.sha256().size() != 32) {
    return absl::InvalidArgumentError("metadata.sha256 must be 32 bytes");
  }
  auto existing = store_->Get(kAttachmentColumnFamily,
                              absl::StrCat("u/", caller.agency(), "/", m.request_id()));
  if (existing.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(*existing, caller.agency()));
    // A retry returns the stored attachment's info: a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordAttachmentRead(caller, a.info, m.request_id()));
    auto upload = std::unique_ptr<AttachmentUpload>(new AttachmentUpload(this, caller, m));
    upload->done_ = true;
    upload->first_ = a.info;
    return upload;
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();
  // Buffers grow as chunks arrive (no reserve from the declared size), and at
  // most max_uploads_in_progress of them exist at once.
  if (uploads_in_progress_.fetch_add(1) >= options_.max_uploads_in_progress) {
    uploads_in_progress_.fetch_sub(1);
    return absl::ResourceExhaustedError("too many uploads in progress; retry later");
  }
  auto upload = std::unique_ptr<AttachmentUpload>(new AttachmentUpload(this, caller, m));
  upload->holds_slot_ = true;
  return upload;
}

AttachmentUpload::~AttachmentUpload() { ReleaseSlot(); }

void AttachmentUpload::ReleaseSlot() {
  if (holds_slot_) {
    holds_slot_ = false;
    desk_->uploads_in_progress_.fetch_sub(1);
  }
}

absl::Status AttachmentUpload::AddChunk(absl::string_view chunk) {
  if (done_) return absl::OkStatus();
  if (chunk.size() > desk_->options_.max_chunk_bytes) {
    return absl::InvalidArgumentError("chunk too large (at most 1 MiB)");
  }
  if (data_.size() + chunk.size() > meta_.size()) {
    return absl::InvalidArgumentError("more bytes than metadata.size");
  }
  data_.append(chunk.data(), chunk.size());
  if (!sniffed_ && data_.size() >= 16) {
    sniffed_ = true;
    BUDSTIKKE_RETURN_IF_ERROR(CheckContentPrefix(meta_.content_type(), data_));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::AttachmentInfo> AttachmentUpload::Finish() {
  if (done_) return first_;
  if (data_.size() != meta_.size()) {
    return absl::InvalidArgumentError("fewer bytes than metadata.size");
  }
  BUDSTIKKE_RETURN_IF_ERROR(CheckContentPrefix(meta_.content_type(), data_));
  if (meta_.content_type() == "text/plain" && !ValidUtf8NoNul(data_)) {
    return absl::InvalidArgumentError("text/plain attachment is not UTF-8 text");
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data_.data()), data_.size(), digest);
  if (meta_.sha256() != std::string(reinterpret_cast<const char*>(digest), sizeof digest)) {
    return absl::InvalidArgumentError("sha256 does not match the content");
  }
  auto info = desk_->StoreUpload(this);
  if (info.ok()) {
    done_ = true;
    first_ = *info;
    std::string().swap(data_);
    ReleaseSlot();
  }
  return info;
}

absl::StatusOr<v1::AttachmentInfo> ReferralDesk::StoreUpload(AttachmentUpload* up) {
  const Caller& caller = up->caller_;
  absl::MutexLock lock(&mu_);
  const std::string req_key = absl::StrCat("u/", caller.agency(), "/", up->meta_.request_id());
  auto existing = store_->Get(kAttachmentColumnFamily, req_key);
  if (existing.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(StoredAttachment a, LoadAttachment(*existing, caller.agency()));
    BUDSTIKKE_RETURN_IF_ERROR(RecordAttachmentRead(caller, a.info, up->meta_.request_id()));
    return a.info;
  }
  BUDSTIKKE_RETURN_IF_ERROR(keyring_->EnsureAgencyKey(caller.agency()).status());
  const absl::Time now = clock_->Now();
  v1::AttachmentInfo info;
  info.set_id(NewId("att-", now));
  info.set_filename(up->meta_.filename());
  info.set_content_type(up->meta_.content_type());
  info.set_kind(up->meta_.kind());
  info.set_size(up->data_.size());
  info.set_sha256(up->meta_.sha256());
  *info.mutable_create_time() = common::ToProtoTime(now);
  storage::WriteBatch batch;
  const std::vector<std::string> readers = {caller.agency()};
  const size_t chunk = options_.max_chunk_bytes;
  for (size_t off = 0, i = 0; off < up->data_.size(); off += chunk, ++i) {
    const std::string key = ChunkKey(info.id(), i);
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string sealed,
        envelope_->Seal(kAttachmentColumnFamily, key,
                        std::string_view(up->data_).substr(off, chunk), readers));
    batch.Put(kAttachmentColumnFamily, key, sealed);
  }
  const std::string akey = AttachmentKey(info.id());
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string sealed_info,
      envelope_->Seal(kAttachmentColumnFamily, akey, info.SerializeAsString(), readers));
  batch.Put(kAttachmentColumnFamily, akey, Frame(caller.agency(), Frame("", sealed_info)));
  batch.Put(kAttachmentColumnFamily, req_key, info.id());
  BUDSTIKKE_RETURN_IF_ERROR(audit_->Add(
      &batch, caller, AttachmentEvent("attachment.upload", info.id(), up->meta_.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(store_->Write(std::move(batch)));
  return info;
}

absl::Status ReferralDesk::Download(
    const Caller& caller, absl::string_view referral_id, absl::string_view attachment_id,
    const std::function<bool(const v1::DownloadAttachmentResponse&)>& sink) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(referral_id, caller.agency()));
  const v1::Referral& r = stored.referral;
  const v1::AttachmentInfo* info = nullptr;
  for (const auto& a : r.attachments()) {
    if (a.id() == attachment_id) info = &a;
  }
  if (info == nullptr) return absl::NotFoundError(kAttachmentNotFound);
  v1::AuditEvent e = Event("attachment.download", stored, "");
  e.mutable_resource()->set_kind(v1::RESOURCE_KIND_ATTACHMENT);
  e.mutable_resource()->set_id(info->id());
  if (r.sender_agency() != caller.agency()) {
    absl::Status gate = RecipientGate(r, /*further=*/true);
    if (!gate.ok()) {
      if (gate.code() != absl::StatusCode::kFailedPrecondition) return gate;
      return Deny(caller, std::move(e), gate);
    }
  }
  absl::Status recorded = audit_->Record(caller, std::move(e));
  if (!recorded.ok()) return recorded;
  v1::DownloadAttachmentResponse first;
  *first.mutable_info() = *info;
  if (!sink(first)) return absl::CancelledError("download cancelled");
  const size_t chunk = options_.max_chunk_bytes;
  const size_t chunks = info->size() == 0 ? 0 : (info->size() + chunk - 1) / chunk;
  for (size_t i = 0; i < chunks; ++i) {
    const std::string key = ChunkKey(info->id(), i);
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string sealed, store_->Get(kAttachmentColumnFamily, key));
    BUDSTIKKE_ASSIGN_OR_RETURN(
        std::string plain, envelope_->Open(kAttachmentColumnFamily, key, sealed, caller.agency()));
    v1::DownloadAttachmentResponse part;
    part.set_chunk(std::move(plain));
    if (!sink(part)) return absl::CancelledError("download cancelled");
  }
  return absl::OkStatus();
}

}  // namespace budstikke::referral
