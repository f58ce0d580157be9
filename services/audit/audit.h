// Audit: the AuditService domain (no gRPC): who may see which events, subject
// pseudonymization, plain-words subject access reports, and auditing of the
// audit reads themselves.
//
// Visibility: role `auditor` sees every event; `admin` sees only events whose
// actor agency is its own (GetEvent of another agency's event and Query with
// another actor_agency are PERMISSION_DENIED, recorded as a DENIED
// "audit.get_event" / "audit.query" event with rule kRuleOwnAgency; the size
// of the log is public, so the refusal hides nothing). Other roles are
// refused by the authorization table before these methods are reached.
//
// No audit, no access: GetEvent, Query and SubjectAccessReport record their
// own event (audit.get_event, audit.query, audit.subject_access_report, with
// the subject pseudonym when given) through the AuditOutbox BEFORE returning
// anything; if that fails they return UNAVAILABLE and no data.
//
// Errors: INVALID_ARGUMENT for a malformed national id (the number is never
// echoed), since >= until, bad page tokens and out-of-range proofs;
// NOT_FOUND (not audited: nothing was read) for an index not in the log.
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_AUDIT_AUDIT_H_
#define BUDSTIKKE_SERVICES_AUDIT_AUDIT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "budstikke/v1/audit.pb.h"
#include "services/audit/audit_log.h"
#include "services/common/agency_lookup.h"
#include "services/common/audit_outbox.h"
#include "services/common/identity.h"
#include "services/common/national_id.h"
#include "storage/pseudonymizer.h"

namespace budstikke::audit {

inline constexpr char kRuleOwnAgency[] = "audit.own_agency";

class Audit {
 public:
  // All must outlive the Audit; `agencies` may be null (no agency names).
  static absl::StatusOr<std::unique_ptr<Audit>> Create(AuditLog* log, common::AuditOutbox* outbox,
                                                       const storage::Pseudonymizer* pseudonymizer,
                                                       const common::AgencyLookup* agencies,
                                                       common::NationalIdOptions id_options = {});

  v1::GetPublicKeyResponse GetPublicKey() const;
  absl::StatusOr<v1::Checkpoint> GetCheckpoint() const;
  absl::StatusOr<v1::GetEventResponse> GetEvent(const common::Caller& caller, uint64_t index);
  absl::StatusOr<v1::InclusionProof> GetInclusionProof(uint64_t index, uint64_t tree_size) const;
  absl::StatusOr<v1::ConsistencyProof> GetConsistencyProof(uint64_t first, uint64_t second) const;
  absl::StatusOr<v1::QueryAuditResponse> Query(const common::Caller& caller,
                                               const v1::QueryAuditRequest& request);
  absl::StatusOr<v1::SubjectAccessReportResponse> SubjectAccessReport(
      const common::Caller& caller, const v1::SubjectAccessReportRequest& request);

  // "leste en henvisning" for "referral.read" (Norwegian Bokmål).
  static std::string Describe(const std::string& action, v1::AuditOutcome outcome);

 private:
  Audit(AuditLog* log, common::AuditOutbox* outbox, const storage::Pseudonymizer* pseudonymizer,
        const common::AgencyLookup* agencies, common::NationalIdOptions id_options)
      : log_(log),
        outbox_(outbox),
        pseudonymizer_(pseudonymizer),
        agencies_(agencies),
        id_options_(id_options) {}

  absl::StatusOr<std::string> SubjectPseudonym(const std::string& national_id) const;
  absl::Status RecordRead(const common::Caller& caller, const std::string& action,
                          const std::string& subject, const std::string& resource_id);

  AuditLog* log_;
  common::AuditOutbox* outbox_;
  const storage::Pseudonymizer* pseudonymizer_;
  const common::AgencyLookup* agencies_;
  common::NationalIdOptions id_options_;
};

}  // namespace budstikke::audit

#endif  // BUDSTIKKE_SERVICES_AUDIT_AUDIT_H_
