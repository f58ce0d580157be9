// budstikke::Client's AuditService and AdminService calls.
#include "budstikke/client.h"

namespace budstikke {

using Audit = v1::AuditService::Stub;
using Admin = v1::AdminService::Stub;

absl::StatusOr<v1::GetPublicKeyResponse> Client::GetAuditPublicKey() const {
  return Call(*audit_, &Audit::GetPublicKey, v1::GetPublicKeyRequest());
}

absl::StatusOr<v1::Checkpoint> Client::GetCheckpoint() const {
  return Call(*audit_, &Audit::GetCheckpoint, v1::GetCheckpointRequest());
}

absl::StatusOr<v1::GetEventResponse> Client::GetAuditEvent(
    const v1::GetEventRequest& request) const {
  return Call(*audit_, &Audit::GetEvent, request);
}

absl::StatusOr<v1::InclusionProof> Client::GetInclusionProof(
    const v1::GetInclusionProofRequest& request) const {
  return Call(*audit_, &Audit::GetInclusionProof, request);
}

absl::StatusOr<v1::ConsistencyProof> Client::GetConsistencyProof(
    const v1::GetConsistencyProofRequest& request) const {
  return Call(*audit_, &Audit::GetConsistencyProof, request);
}

absl::StatusOr<v1::QueryAuditResponse> Client::QueryAudit(
    const v1::QueryAuditRequest& request) const {
  return Call(*audit_, &Audit::Query, request);
}

absl::StatusOr<v1::SubjectAccessReportResponse> Client::SubjectAccessReport(
    const v1::SubjectAccessReportRequest& request) const {
  return Call(*audit_, &Audit::SubjectAccessReport, request);
}

absl::StatusOr<v1::AgencyKeyStatus> Client::GetKeyStatus(
    const v1::GetKeyStatusRequest& request) const {
  return Call(*admin_, &Admin::GetKeyStatus, request);
}

absl::StatusOr<v1::AgencyKeyStatus> Client::RotateAgencyKey(
    const v1::RotateAgencyKeyRequest& request) const {
  return Call(*admin_, &Admin::RotateAgencyKey, request);
}

absl::StatusOr<v1::AgencyKeyStatus> Client::ShredAgencyKeyVersion(
    const v1::ShredAgencyKeyVersionRequest& request) const {
  return Call(*admin_, &Admin::ShredAgencyKeyVersion, request);
}

absl::StatusOr<v1::RewrapProgress> Client::GetRewrapProgress(
    const v1::GetRewrapProgressRequest& request) const {
  return Call(*admin_, &Admin::GetRewrapProgress, request);
}

absl::StatusOr<v1::Backup> Client::CreateBackup(const v1::CreateBackupRequest& request) const {
  return Call(*admin_, &Admin::CreateBackup, request);
}

absl::StatusOr<v1::ServerInfo> Client::GetServerInfo() const {
  return Call(*admin_, &Admin::GetServerInfo, v1::GetServerInfoRequest());
}

}  // namespace budstikke
