// Consultations::Ask: validation, screening, routing to the recipient agency
// and the idempotent create.
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
absl::StatusOr<v1::Consultation> Consultations::Ask(const Caller& caller,
                                                    const v1::AskConsultationRequest& req) {
  BUDSTIKKE_RETURN_IF_ERROR(common::ValidateRequestId(req.request_id()));
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
    if (m.size() != 4 ||
        !std::all_of(m.begin(), m.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return absl::InvalidArgumentError("recipient.by_type.municipality must be four digits");
    }
    if (!options_.recipient_types.count(by.type())) {
      return Deny(
          caller,
          common::PolicyRefusal({{kRuleRecipientType,
                                  absl::StrCat("consultations go to ",
                                               policy::AgencyTypeList(options_.recipient_types))}}),
          "consultation.create", "", req.request_id());
    }
    BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<v1::Agency> found,
                               d_.directory->FindAgencies(by.type(), m));
    if (found.empty()) {
      return Deny(
          caller,
          common::PolicyRefusal(
              {{kRuleNoRecipient, absl::StrCat("no agency of type ", v1::AgencyType_Name(by.type()),
                                               " in municipality ", m)}}),
          "consultation.create", "", req.request_id());
    }
    recipient = found.front();
  }
  if (!options_.recipient_types.count(recipient.type())) {
    return Deny(
        caller,
        common::PolicyRefusal(
            {{kRuleRecipientType,
              absl::StrCat("agency '", recipient.id(), "' does not answer consultations; send to ",
                           policy::AgencyTypeList(options_.recipient_types))}}),
        "consultation.create", "", req.request_id());
  }

  const std::string qkey = RequestKey(caller.agency(), req.request_id());
  const std::string fingerprint = common::RequestFingerprint("consultation.create", req);
  absl::MutexLock lock(&StripeFor(qkey));
  auto prior = d_.store->Get(kColumnFamily, qkey);
  if (prior.ok()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(std::string id,
                               common::ReplayedId(*prior, fingerprint, req.request_id()));
    BUDSTIKKE_ASSIGN_OR_RETURN(v1::Consultation meta, LoadVisible(caller, id, "consultation.read"));
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
  *meta.mutable_sender() = common::ActorOf(caller);
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
  batch.Put(kColumnFamily, qkey, common::RequestRecord(meta.id(), fingerprint));
  batch.Put(kColumnFamily, absl::StrCat("k/", meta.id(), "/", qkey), "");
  BUDSTIKKE_RETURN_IF_ERROR(
      d_.audit->Add(&batch, caller, Event("consultation.create", meta.id(), req.request_id())));
  BUDSTIKKE_RETURN_IF_ERROR(d_.inbox->Commit(
      std::move(batch), {{meta.recipient_agency(), v1::INBOX_EVENT_TYPE_CONSULTATION_RECEIVED,
                          common::Ref(v1::RESOURCE_KIND_CONSULTATION, meta.id())}}));
  return Merge(meta, content);
}

}  // namespace budstikke::consultation
