#include "services/audit/audit.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "services/common/audit_event.h"
#include "services/common/errors.h"
#include "services/common/time_util.h"
#include "storage/status_macros.h"

namespace budstikke::audit {
namespace {

absl::Status CheckRange(const google::protobuf::Timestamp* since,
                        const google::protobuf::Timestamp* until, AuditFilter* f) {
  if (since != nullptr) f->since = common::FromProtoTime(*since);
  if (until != nullptr) f->until = common::FromProtoTime(*until);
  if (f->since && f->until && *f->since >= *f->until) {
    return absl::InvalidArgumentError("since must be before until");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Audit>> Audit::Create(AuditLog* log, common::AuditOutbox* outbox,
                                                     const storage::Pseudonymizer* pseudonymizer,
                                                     const common::AgencyLookup* agencies,
                                                     common::NationalIdOptions id_options) {
  if (log == nullptr || outbox == nullptr || pseudonymizer == nullptr) {
    return absl::InvalidArgumentError("audit needs a log, an outbox and a pseudonymizer");
  }
  return std::unique_ptr<Audit>(new Audit(log, outbox, pseudonymizer, agencies, id_options));
}

v1::GetPublicKeyResponse Audit::GetPublicKey() const {
  v1::GetPublicKeyResponse r;
  r.set_verifier_key(log_->signer().VerifierKey());
  r.set_name(log_->signer().name());
  return r;
}

absl::StatusOr<v1::Checkpoint> Audit::GetCheckpoint() const {
  auto cp = log_->LatestCheckpoint();
  if (absl::IsFailedPrecondition(cp.status())) {
    return absl::UnavailableError("no audit checkpoint signed yet; retry in a second");
  }
  return cp;
}

absl::StatusOr<std::string> Audit::SubjectPseudonym(const std::string& national_id) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(common::NationalId id,
                             common::NationalId::Parse(national_id, id_options_));
  return pseudonymizer_->Pseudonymize(id.digits());
}

absl::Status Audit::RecordRead(const common::Caller& caller, const std::string& action,
                               const std::string& subject, const std::string& resource_id) {
  v1::AuditEvent e = common::AllowedEvent(action, v1::RESOURCE_KIND_AUDIT_LOG, resource_id);
  e.set_subject(subject);
  return outbox_->Record(caller, std::move(e));
}

absl::StatusOr<v1::GetEventResponse> Audit::GetEvent(const common::Caller& caller, uint64_t index) {
  // The event is looked at, but nothing of it is returned before the access
  // (or its refusal) is recorded.
  BUDSTIKKE_ASSIGN_OR_RETURN(v1::GetEventResponse r, log_->GetEvent(index));
  if (caller.role() != v1::ROLE_AUDITOR && r.event().actor().agency() != caller.agency()) {
    return common::RecordRefusal(
        *outbox_, caller,
        common::AllowedEvent("audit.get_event", v1::RESOURCE_KIND_AUDIT_LOG, absl::StrCat(index)),
        common::RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOwnAgency,
                            absl::StrCat("audit.own_agency: an admin may read only its own "
                                         "agency's events; event ",
                                         index, " is another agency's")));
  }
  BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, "audit.get_event", "", absl::StrCat(index)));
  return r;
}

absl::StatusOr<v1::InclusionProof> Audit::GetInclusionProof(uint64_t index,
                                                            uint64_t tree_size) const {
  return log_->InclusionProof(index, tree_size);
}

absl::StatusOr<v1::ConsistencyProof> Audit::GetConsistencyProof(uint64_t first,
                                                                uint64_t second) const {
  return log_->ConsistencyProof(first, second);
}

absl::StatusOr<v1::QueryAuditResponse> Audit::Query(const common::Caller& caller,
                                                    const v1::QueryAuditRequest& req) {
  AuditFilter f;
  if (!req.subject_national_id().empty()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(f.subject, SubjectPseudonym(req.subject_national_id()));
  }
  f.actor_agency = req.actor_agency();
  f.actor_user = req.actor_user();
  f.action = req.action();
  f.outcome = req.outcome();
  BUDSTIKKE_RETURN_IF_ERROR(CheckRange(req.has_since() ? &req.since() : nullptr,
                                       req.has_until() ? &req.until() : nullptr, &f));
  if (caller.role() != v1::ROLE_AUDITOR) {
    if (!f.actor_agency.empty() && f.actor_agency != caller.agency()) {
      v1::AuditEvent e = common::AllowedEvent("audit.query", v1::RESOURCE_KIND_AUDIT_LOG, "");
      e.set_subject(f.subject);
      return common::RecordRefusal(
          *outbox_, caller, std::move(e),
          common::RuleRefusal(absl::StatusCode::kPermissionDenied, kRuleOwnAgency,
                              "an admin may query only its own agency's events; drop "
                              "actor_agency or set it to " +
                                  caller.agency()));
    }
    f.actor_agency = caller.agency();
  }
  if (req.page_size() < 0 || req.page_size() > 1000) {
    return absl::InvalidArgumentError("page_size must be between 1 and 1000");
  }
  BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, "audit.query", f.subject, ""));
  v1::QueryAuditResponse resp;
  uint64_t bound = log_->size();
  uint64_t proof_size = 0;
  if (req.with_proofs()) {
    BUDSTIKKE_ASSIGN_OR_RETURN(*resp.mutable_checkpoint(), GetCheckpoint());
    bound = proof_size = resp.checkpoint().tree_size();
  }
  BUDSTIKKE_ASSIGN_OR_RETURN(AuditPage page,
                             log_->Query(f, bound, proof_size, req.page_size(), req.page_token()));
  for (v1::AuditRecord& r : page.records) *resp.add_records() = std::move(r);
  resp.set_next_page_token(page.next_page_token);
  return resp;
}

std::string Audit::Describe(const std::string& action, v1::AuditOutcome outcome) {
  static const auto* kWords = new std::map<std::string, std::string>{
      {"consultation.create", "opprettet en anonym drøfting"},
      {"consultation.read", "leste en anonym drøfting"},
      {"consultation.list", "så en liste over anonyme drøftinger"},
      {"consultation.claim", "tok en anonym drøfting"},
      {"consultation.answer", "svarte på en anonym drøfting"},
      {"consultation.message", "skrev en melding i en anonym drøfting"},
      {"consultation.close", "lukket en anonym drøfting"},
      {"consent.record", "registrerte et samtykke"},
      {"consent.read", "leste et samtykke"},
      {"consent.list", "så samtykkene"},
      {"consent.revoke", "trakk tilbake et samtykke"},
      {"referral.send", "sendte en henvisning"},
      {"referral.read", "leste en henvisning"},
      {"referral.list", "så en liste over henvisninger"},
      {"referral.acknowledge", "bekreftet mottak av en henvisning"},
      {"referral.decide", "tok en beslutning om en henvisning"},
      {"referral.withdraw", "trakk tilbake en henvisning"},
      {"referral.draft", "skrev et utkast til en henvisning"},
      {"referral.cosign", "signerte og sendte en henvisning"},
      {"referral.return", "returnerte et utkast til en henvisning"},
      {"referral.supplement", "supplerte en henvisning"},
      {"referral.escalate", "varslet om en hastehenvisning som ikke var bekreftet"},
      {"referral.invite", "inviterte en virksomhet til tråden i en henvisning"},
      {"referral.message", "skrev i tråden til en henvisning"},
      {"referral.thread.read", "leste tråden til en henvisning"},
      {"attachment.upload", "lastet opp et vedlegg"},
      {"attachment.download", "lastet ned et vedlegg"},
      {"attachment.read", "leste opplysninger om et vedlegg"},
      {"audit.query", "søkte i tilgangsloggen"},
      {"audit.get_event", "leste en hendelse i tilgangsloggen"},
      {"audit.subject_access_report", "hentet innsyn i tilgangsloggen"},
  };
  auto it = kWords->find(action);
  std::string what = it != kWords->end() ? it->second : absl::StrCat("utførte ", action);
  if (outcome == v1::AUDIT_OUTCOME_DENIED) return absl::StrCat("ble nektet: ", what);
  return what;
}

absl::StatusOr<v1::SubjectAccessReportResponse> Audit::SubjectAccessReport(
    const common::Caller& caller, const v1::SubjectAccessReportRequest& req) {
  if (req.subject_national_id().empty()) {
    return absl::InvalidArgumentError("subject_national_id is required");
  }
  AuditFilter f;
  BUDSTIKKE_ASSIGN_OR_RETURN(f.subject, SubjectPseudonym(req.subject_national_id()));
  BUDSTIKKE_RETURN_IF_ERROR(CheckRange(req.has_since() ? &req.since() : nullptr,
                                       req.has_until() ? &req.until() : nullptr, &f));
  if (req.page_size() < 0 || req.page_size() > 1000) {
    return absl::InvalidArgumentError("page_size must be between 1 and 1000");
  }
  BUDSTIKKE_RETURN_IF_ERROR(RecordRead(caller, "audit.subject_access_report", f.subject, ""));
  BUDSTIKKE_ASSIGN_OR_RETURN(AuditPage page,
                             log_->Query(f, log_->size(), 0, req.page_size(), req.page_token()));
  v1::SubjectAccessReportResponse resp;
  for (const v1::AuditRecord& r : page.records) {
    const v1::AuditEvent& e = r.event();
    v1::SubjectAccessEntry* out = resp.add_entries();
    *out->mutable_time() = e.time();
    out->set_agency(e.actor().agency());
    if (agencies_ != nullptr) {
      auto a = agencies_->GetAgency(e.actor().agency());
      if (a.ok()) out->set_agency_name(a->name());
    }
    out->set_user(e.actor().user());
    out->set_role(e.actor().role());
    out->set_action(e.action());
    out->set_description(Describe(e.action(), e.outcome()));
    out->set_legal_basis(e.legal_basis());
    out->set_outcome(e.outcome());
    out->set_index(e.index());
  }
  resp.set_next_page_token(page.next_page_token);
  return resp;
}

}  // namespace budstikke::audit
