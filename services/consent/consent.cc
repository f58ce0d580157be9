#include "services/consent/consent.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/idempotency.h"
#include "services/common/national_id.h"
#include "services/common/paging.h"
#include "services/common/record_codec.h"
#include "services/common/sealed_records.h"
#include "services/common/text.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::consent {

namespace {

using common::Caller;
std::string NewId(absl::string_view prefix, absl::Time now) {
  return common::TimeOrderedId(prefix, now);
}
std::string InvertedTime(absl::Time t) { return common::InvertedTimeMicros(t); }

constexpr char kNotFound[] = "consent not found";

std::string RecordKey(absl::string_view id) { return absl::StrCat("c/", id); }
std::string FactsKey(absl::string_view id) { return absl::StrCat("f/", id); }

constexpr char kRecordKind[] = "consent.record";
constexpr char kReadersMarkerKey[] = "m/recipients-are-readers";

// Who may open a consent: the recording agency (first) and every recipient
// named as an agency.
std::vector<std::string> ReadersOf(const v1::Consent& c) {
  std::vector<std::string> readers = {c.recording_agency()};
  for (const v1::ConsentRecipient& r : RecipientsOf(c)) {
    if (r.target_case() == v1::ConsentRecipient::kAgency &&
        std::find(readers.begin(), readers.end(), r.agency()) == readers.end()) {
      readers.push_back(r.agency());
    }
  }
  return readers;
}

v1::AuditEvent Event(const std::string& action, const std::string& id, const std::string& subject,
                     const std::string& request_id) {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_CONSENT, id);
  e.set_subject(subject);
  e.set_consent_id(id);
  e.set_request_id(request_id);
  return e;
}

using common::Utf8Length;

}  // namespace

absl::StatusOr<std::unique_ptr<ConsentRegistry>> ConsentRegistry::Create(
    storage::Store* store, storage::Keyring* keyring, common::AuditOutbox* audit,
    common::InboxWriter* inbox, const common::AgencyLookup* directory, const common::Clock* clock,
    ConsentOptions options) {
  common::RecordDeps deps{store, keyring, nullptr, audit, inbox, directory, clock};
  BUDSTIKKE_ASSIGN_OR_RETURN(deps.records, common::SealedRecords::Create(keyring));
  auto registry =
      std::unique_ptr<ConsentRegistry>(new ConsentRegistry(std::move(deps), std::move(options)));
  BUDSTIKKE_RETURN_IF_ERROR(registry->SealForNamedRecipients());
  return registry;
}

absl::Status ConsentRegistry::SealForNamedRecipients() {
  if (deps_.store->Get(kColumnFamily, kReadersMarkerKey).ok()) return absl::OkStatus();
  std::vector<std::string> ids;
  auto it = deps_.store->Scan(kColumnFamily, "c/");
  for (; it->Valid(); it->Next()) ids.emplace_back(it->key().substr(2));
  BUDSTIKKE_RETURN_IF_ERROR(it->status());
  storage::WriteBatch batch;
  for (const std::string& id : ids) {
    auto stored = Load(id);
    if (absl::IsFailedPrecondition(stored.status())) continue;  // shredded: unreadable for good
    if (!stored.ok()) return stored.status();
    BUDSTIKKE_RETURN_IF_ERROR(Put(*stored, &batch));
  }
  batch.Put(kColumnFamily, kReadersMarkerKey, "");
  return deps_.store->Write(std::move(batch));
}

policy::CivilDate ConsentRegistry::Today() const {
  return policy::DateOf(deps_.clock->Now(), options_.zone);
}

v1::ConsentRecipient FromRef(const v1::RecipientRef& ref) {
  v1::ConsentRecipient r;
  if (ref.target_case() == v1::RecipientRef::kAgency) r.set_agency(ref.agency());
  if (ref.target_case() == v1::RecipientRef::kType) r.set_agency_type(ref.type());
  return r;
}

v1::RecipientRef ToRef(const v1::ConsentRecipient& r) {
  v1::RecipientRef ref;
  if (r.target_case() == v1::ConsentRecipient::kAgency) ref.set_agency(r.agency());
  if (r.target_case() == v1::ConsentRecipient::kAgencyType) ref.set_type(r.agency_type());
  return ref;
}

std::vector<v1::ConsentRecipient> RecipientsOf(const v1::Consent& c) {
  if (c.recipients_size() == 0) return {c.recipient()};
  std::vector<v1::ConsentRecipient> out;
  for (const v1::RecipientRef& ref : c.recipients()) out.push_back(FromRef(ref));
  return out;
}

absl::StatusOr<std::vector<v1::ConsentRecipient>> ConsentRegistry::ValidateRecipients(
    const v1::RecordConsentRequest& req) const {
  std::vector<v1::ConsentRecipient> all;
  for (const v1::RecipientRef& ref : req.recipients()) all.push_back(FromRef(ref));
  const bool has_first =
      req.has_recipient() && req.recipient().target_case() != v1::ConsentRecipient::TARGET_NOT_SET;
  if (all.empty() && has_first) all.push_back(req.recipient());
  if (all.empty()) {
    return absl::InvalidArgumentError("recipient (agency or agency_type) is required");
  }
  if (has_first && !google::protobuf::util::MessageDifferencer::Equals(req.recipient(), all[0])) {
    return absl::InvalidArgumentError("recipient must equal the first of recipients");
  }
  if (all.size() > kMaxRecipients) {
    return absl::InvalidArgumentError(absl::StrCat("recipients: at most ", kMaxRecipients));
  }
  for (size_t i = 0; i < all.size(); ++i) {
    const v1::ConsentRecipient& r = all[i];
    switch (r.target_case()) {
      case v1::ConsentRecipient::kAgency:
        BUDSTIKKE_RETURN_IF_ERROR(
            common::GetAgencyOr(*deps_.directory, r.agency(),
                                absl::InvalidArgumentError("recipient.agency: unknown agency"))
                .status());
        break;
      case v1::ConsentRecipient::kAgencyType:
        if (r.agency_type() == v1::AGENCY_TYPE_UNSPECIFIED) {
          return absl::InvalidArgumentError("recipient.agency_type must be set");
        }
        break;
      default:
        return absl::InvalidArgumentError("recipient (agency or agency_type) is required");
    }
    for (size_t j = 0; j < i; ++j) {
      if (google::protobuf::util::MessageDifferencer::Equals(all[j], r)) {
        return absl::InvalidArgumentError("recipients: named twice");
      }
    }
  }
  return all;
}

absl::Status ConsentRegistry::Refuse(const Caller& caller, const std::string& action,
                                     const std::string& subject, const std::string& request_id,
                                     const std::vector<common::Violation>& violations) {
  v1::AuditEvent e = Event(action, "", subject, request_id);
  e.clear_consent_id();
  return common::RecordRefusal(*deps_.audit, caller, std::move(e),
                               common::PolicyRefusal(violations));
}

absl::Status ConsentRegistry::RecordRead(const Caller& caller, const Stored& stored,
                                         const std::string& request_id) {
  auto recorded = deps_.audit->Record(
      caller, Event("consent.read", stored.consent.id(), stored.pseudonym, request_id));
  return recorded;
}

absl::StatusOr<std::string> ConsentRegistry::Fetch(absl::string_view id,
                                                   const std::string& key) const {
  if (id.empty() || id.size() > 128) return absl::NotFoundError(kNotFound);
  auto value = deps_.store->Get(kColumnFamily, key);
  if (absl::IsNotFound(value.status())) return absl::NotFoundError(kNotFound);
  return value;
}

absl::StatusOr<ConsentRegistry::Stored> ConsentRegistry::Decode(const std::string& key,
                                                                absl::string_view value,
                                                                absl::string_view reader) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(
      auto opened,
      deps_.records->Open(kColumnFamily, key, std::string_view(value.data(), value.size()),
                          std::string_view(reader.data(), reader.size())));
  Stored stored;
  stored.pseudonym = std::move(opened.pseudonym);
  if (!stored.consent.ParseFromString(opened.plaintext)) {
    return absl::DataLossError("consent record does not parse");
  }
  return stored;
}

absl::StatusOr<ConsentRegistry::Stored> ConsentRegistry::Read(absl::string_view id,
                                                              bool facts_only) const {
  const std::string key = facts_only ? FactsKey(id) : RecordKey(id);
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Fetch(id, key));
  return Decode(key, value, "");
}

absl::StatusOr<ConsentRegistry::Stored> ConsentRegistry::LoadVisible(const Caller& caller,
                                                                     absl::string_view id,
                                                                     const std::string& action) {
  const std::string key = RecordKey(id);
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string value, Fetch(id, key));
  BUDSTIKKE_ASSIGN_OR_RETURN(common::SealedRecords::Clear clear,
                             common::SealedRecords::Peek(value));
  const std::string& agency = caller.agency();
  const bool reader =
      std::find(clear.readers.begin(), clear.readers.end(), agency) != clear.readers.end();
  bool received = false;
  if (!reader && observer_ != nullptr) {
    BUDSTIKKE_ASSIGN_OR_RETURN(received, observer_->ReceivedUnderConsent(id, agency));
  }
  if (!reader && !received) {
    return common::RecordHiddenProbe(*deps_.audit, caller,
                                     Event(action, std::string(id), clear.pseudonym, ""),
                                     kRuleNotVisible, absl::NotFoundError(kNotFound));
  }
  return Decode(key, value, reader ? absl::string_view(agency) : absl::string_view());
}

absl::StatusOr<ConsentRegistry::Stored> ConsentRegistry::Load(absl::string_view id) const {
  return Read(id, /*facts_only=*/false);
}

absl::StatusOr<ConsentRegistry::Stored> ConsentRegistry::LoadFacts(absl::string_view id) const {
  auto facts = Read(id, /*facts_only=*/true);
  if (absl::IsNotFound(facts.status())) return Load(id);  // recorded before the index existed
  return facts;
}

absl::Status ConsentRegistry::Put(const Stored& stored, storage::WriteBatch* batch) const {
  const v1::Consent& c = stored.consent;
  const std::vector<std::string> readers = ReadersOf(c);
  for (const std::string& reader : readers) {
    BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->EnsureAgencyKey(reader).status());
  }
  const std::string key = RecordKey(c.id());
  BUDSTIKKE_ASSIGN_OR_RETURN(
      std::string value,
      deps_.records->Seal(kColumnFamily, key, stored.pseudonym, c.SerializeAsString(), readers));
  batch->Put(kColumnFamily, key, value);
  // The facts index: what policy decisions need, without the national id.
  v1::Consent facts;
  facts.set_id(c.id());
  facts.set_status(c.status());
  facts.set_giver(c.giver());
  *facts.mutable_recipient() = c.recipient();
  *facts.mutable_recipients() = c.recipients();
  facts.set_purpose(c.purpose());
  *facts.mutable_valid_until() = c.valid_until();
  facts.set_recording_agency(c.recording_agency());
  const std::string fkey = FactsKey(c.id());
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string fvalue,
                             deps_.records->Seal(kColumnFamily, fkey, stored.pseudonym,
                                                 facts.SerializeAsString(), readers));
  batch->Put(kColumnFamily, fkey, fvalue);
  return absl::OkStatus();
}

v1::Consent ConsentRegistry::Present(const Stored& stored, bool with_subject) const {
  v1::Consent out = stored.consent;
  out.set_status(policy::ConsentStatusOn(FactsOf(stored), Today()));
  if (!with_subject) out.clear_subject_national_id();
  return out;
}

common::ConsentFacts ConsentRegistry::FactsOf(const Stored& stored) {
  common::ConsentFacts f;
  f.id = stored.consent.id();
  f.recording_agency = stored.consent.recording_agency();
  f.subject_pseudonym = stored.pseudonym;
  f.giver = stored.consent.giver();
  f.recipient = stored.consent.recipient();
  if (stored.consent.recipients_size() > 0) f.recipients = RecipientsOf(stored.consent);
  f.purpose = stored.consent.purpose();
  f.valid_until = stored.consent.valid_until();
  f.revoked = stored.consent.status() == v1::CONSENT_STATUS_REVOKED;
  return f;
}

absl::StatusOr<v1::Consent> ConsentRegistry::Record(const Caller& caller,
                                                    const v1::RecordConsentRequest& req) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(req.request_id()));
  // Synthetic ids parse; refusing them is a policy rule (below).
  auto nid = common::NationalId::Parse(req.subject_national_id());
  if (!nid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("subject_national_id: ", nid.status().message()));
  }
  if (req.giver() != v1::CONSENT_GIVER_CHILD && req.giver() != v1::CONSENT_GIVER_GUARDIAN) {
    return absl::InvalidArgumentError("giver must be CHILD or GUARDIAN");
  }
  if (req.giver() == v1::CONSENT_GIVER_GUARDIAN &&
      req.giver_relation() == v1::GUARDIAN_RELATION_UNSPECIFIED) {
    return absl::InvalidArgumentError("giver_relation is required when giver is GUARDIAN");
  }
  if (req.giver() == v1::CONSENT_GIVER_CHILD &&
      req.giver_relation() != v1::GUARDIAN_RELATION_UNSPECIFIED) {
    return absl::InvalidArgumentError("giver_relation must be unset when giver is CHILD");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::ConsentRecipient> recipients, ValidateRecipients(req));
  if (Utf8Length(req.purpose()) < 1 || Utf8Length(req.purpose()) > 500) {
    return absl::InvalidArgumentError("purpose is required (1-500 characters)");
  }
  if (Utf8Length(req.scope()) < 1 || Utf8Length(req.scope()) > 2000) {
    return absl::InvalidArgumentError("scope is required (1-2000 characters)");
  }
  if (req.method() == v1::CONSENT_METHOD_UNSPECIFIED) {
    return absl::InvalidArgumentError("method must be WRITTEN, VERBAL or DIGITAL");
  }
  // One reading of the clock: the day of the age and validity checks is the
  // day the consent is stamped with.
  const absl::Time now = deps_.clock->Now();
  const policy::CivilDate today = policy::DateOf(now, options_.zone);
  policy::CivilDate valid_until = policy::AddYears(today, 1);
  if (req.has_valid_until()) {
    const v1::Date& d = req.valid_until();
    if (!common::IsRealDate(d.year(), d.month(), d.day())) {
      return absl::InvalidArgumentError("valid_until is not a real date");
    }
    valid_until = policy::FromProto(d);
    if (valid_until < today) return absl::InvalidArgumentError("valid_until is in the past");
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string pseudonym, deps_.records->Pseudonymize(nid->digits()));

  absl::MutexLock lock(&mu_);
  const std::string req_key = absl::StrCat("q/", caller.agency(), "/", req.request_id());
  const std::string fingerprint = common::RequestFingerprint(kRecordKind, req);
  auto existing = deps_.store->Get(kColumnFamily, req_key);
  if (existing.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string id,
                               common::ReplayedId(*existing, fingerprint, req.request_id()));
    BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, Load(id));
    // A retry returns the consent with the national id: a read, audited first.
    BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, req.request_id()));
    return Present(stored, /*with_subject=*/true);
  }
  if (!absl::IsNotFound(existing.status())) return existing.status();

  const int age = nid->AgeOn(today);
  auto violations = policy::NationalIdViolations(options_.rules, nid->is_synthetic());
  for (auto& v : policy::GiverViolations(options_.rules, req.giver(), age)) {
    violations.push_back(std::move(v));
  }
  if (!violations.empty()) {
    return Refuse(caller, kRecordKind, pseudonym, req.request_id(), violations);
  }

  BUDSTIKKE_RETURN_IF_ERROR(deps_.keyring->EnsureAgencyKey(caller.agency()).status());
  Stored stored;
  stored.pseudonym = pseudonym;
  v1::Consent& c = stored.consent;
  c.set_id(NewId("cns-", now));
  c.set_status(v1::CONSENT_STATUS_ACTIVE);
  c.set_subject_national_id(nid->digits());
  c.set_giver(req.giver());
  c.set_giver_relation(req.giver_relation());
  *c.mutable_recipient() = recipients.front();
  for (const v1::ConsentRecipient& r : recipients) *c.add_recipients() = ToRef(r);
  c.set_purpose(req.purpose());
  c.set_scope(req.scope());
  c.set_method(req.method());
  *c.mutable_valid_until() = policy::ToProto(valid_until);
  c.set_recording_agency(caller.agency());
  *c.mutable_recorded_by() = common::ActorOf(caller);
  *c.mutable_record_time() = common::ToProtoTime(now);

  const std::string inv = InvertedTime(now);
  storage::WriteBatch batch;
  BUDSTIKKE_RETURN_IF_ERROR(Put(stored, &batch));
  batch.Put(kColumnFamily, absl::StrCat("l/", caller.agency(), "/", inv, "/", c.id()), "");
  batch.Put(kColumnFamily,
            absl::StrCat("s/", caller.agency(), "/", pseudonym, "/", inv, "/", c.id()), "");
  batch.Put(kColumnFamily, req_key, common::RequestRecord(c.id(), fingerprint));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.audit->Add(
      &batch, caller, Event("consent.record", c.id(), pseudonym, req.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(std::move(batch), {}));
  return Present(stored, /*with_subject=*/true);
}

absl::StatusOr<v1::Consent> ConsentRegistry::Revoke(const Caller& caller,
                                                    const v1::RevokeConsentRequest& req) {
  if (Utf8Length(req.reason()) < 1 || Utf8Length(req.reason()) > 500) {
    return absl::InvalidArgumentError("reason is required (1-500 characters)");
  }
  Stored stored;
  {
    absl::MutexLock lock(&mu_);
    BUDSTIKKE_ASSIGN_OR_RETURN(stored, LoadVisible(caller, req.id(), "consent.revoke"));
    if (stored.consent.status() == v1::CONSENT_STATUS_REVOKED) {
      // Returned unchanged: a read, audited first. The fan-out below still
      // runs (it is idempotent), so a retry completes one that failed.
      BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, stored, ""));
    } else {
      v1::Consent& c = stored.consent;
      c.set_status(v1::CONSENT_STATUS_REVOKED);
      *c.mutable_revoked_by() = common::ActorOf(caller);
      c.set_revoke_reason(req.reason());
      *c.mutable_revoke_time() = common::ToProtoTime(deps_.clock->Now());
      storage::WriteBatch batch;
      BUDSTIKKE_RETURN_IF_ERROR(Put(stored, &batch));
      BUDSTIKKE_RETURN_IF_ERROR(
          deps_.audit->Add(&batch, caller, Event("consent.revoke", c.id(), stored.pseudonym, "")));
      std::vector<common::InboxDelivery> events;
      events.push_back({c.recording_agency(), v1::INBOX_EVENT_TYPE_CONSENT_REVOKED,
                        common::Ref(v1::RESOURCE_KIND_CONSENT, c.id())});
      for (const v1::ConsentRecipient& r : RecipientsOf(c)) {
        if (r.target_case() == v1::ConsentRecipient::kAgency &&
            r.agency() != c.recording_agency()) {
          events.push_back({r.agency(), v1::INBOX_EVENT_TYPE_CONSENT_REVOKED,
                            common::Ref(v1::RESOURCE_KIND_CONSENT, c.id())});
        }
      }
      BUDSTIKKE_RETURN_IF_ERROR(deps_.Commit(std::move(batch), std::move(events)));
    }
  }
  // The revocation is durable: every read from now on sees it. Now withdraw
  // the referrals under it that were not acknowledged.
  if (observer_ != nullptr) {
    const common::ConsentFacts facts = FactsOf(stored);
    BUDSTIKKE_RETURN_IF_ERROR(observer_->OnConsentRevoked(caller, facts));
  }
  return Present(stored, stored.consent.recording_agency() == caller.agency());
}

absl::StatusOr<v1::Consent> ConsentRegistry::Get(const Caller& caller, absl::string_view id) {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadVisible(caller, id, "consent.read"));
  auto recorded =
      deps_.audit->Record(caller, Event("consent.read", stored.consent.id(), stored.pseudonym, ""));
  if (!recorded.ok()) return recorded;
  return Present(stored, stored.consent.recording_agency() == caller.agency());
}

absl::StatusOr<v1::ListConsentsResponse> ConsentRegistry::List(const Caller& caller,
                                                               const v1::ListConsentsRequest& req) {
  BUDSTIKKE_ASSIGN_OR_RETURN(int page_size, common::PageSize(req.page_size()));
  std::string prefix = absl::StrCat("l/", caller.agency(), "/");
  std::string subject;
  if (!req.subject_national_id().empty()) {
    auto nid = common::NationalId::Parse(req.subject_national_id());
    if (!nid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("subject_national_id: ", nid.status().message()));
    }
    BUDSTIKKE_ASSIGN_OR_RETURN(subject, deps_.records->Pseudonymize(nid->digits()));
    auto violations = policy::NationalIdViolations(options_.rules, nid->is_synthetic());
    if (!violations.empty()) return Refuse(caller, "consent.list", subject, "", violations);
    prefix = absl::StrCat("s/", caller.agency(), "/", subject, "/");
  }
  v1::ListConsentsResponse resp;
  auto row = [&](absl::string_view rest) -> absl::StatusOr<bool> {
    auto loaded = Load(rest.substr(rest.rfind('/') + 1));
    // Sealed under a key version that was shredded: unreadable for good, so
    // the page lists the readable ones instead of failing forever.
    if (absl::IsFailedPrecondition(loaded.status())) return false;
    if (!loaded.ok()) return loaded.status();
    v1::Consent c = Present(*loaded, /*with_subject=*/false);
    if (req.statuses_size() > 0 && std::find(req.statuses().begin(), req.statuses().end(),
                                             c.status()) == req.statuses().end()) {
      return false;
    }
    *resp.add_consents() = std::move(c);
    return true;
  };
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string next, common::ScanPage(*deps_.store, kColumnFamily, prefix,
                                                                req.page_token(), page_size, row));
  resp.set_next_page_token(next);
  v1::AuditEvent e = Event("consent.list", "", subject, "");
  e.clear_consent_id();
  auto recorded = deps_.audit->Record(caller, std::move(e));
  if (!recorded.ok()) return recorded;
  return resp;
}

absl::StatusOr<common::ConsentFacts> ConsentRegistry::GetConsentFacts(
    absl::string_view consent_id) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(Stored stored, LoadFacts(consent_id));
  return FactsOf(stored);
}

}  // namespace budstikke::consent
