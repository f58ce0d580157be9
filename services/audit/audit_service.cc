#include "services/audit/audit_service.h"

#include "services/common/authz.h"
#include "services/common/grpc_status.h"

namespace budstikke::audit {

using common::ToGrpcStatus;

absl::StatusOr<common::Caller> AuditServiceImpl::Authenticate(grpc::ServerContext* ctx,
                                                              const char* method,
                                                              const char* action) const {
  auto caller = auth_->Identify(ctx);
  if (!caller.ok()) return caller.status();
  absl::Status allowed =
      common::Authorize(std::string("budstikke.v1.AuditService/") + method, caller->role());
  if (!allowed.ok()) {
    if (action != nullptr) {
      absl::Status recorded = audit_->RecordDenied(*caller, action);
      if (!recorded.ok()) return recorded;
    }
    return allowed;
  }
  return caller;
}

grpc::Status AuditServiceImpl::GetPublicKey(grpc::ServerContext* ctx, const v1::GetPublicKeyRequest*,
                                            v1::GetPublicKeyResponse* resp) {
  auto caller = Authenticate(ctx, "GetPublicKey", nullptr);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  *resp = audit_->GetPublicKey();
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetCheckpoint(grpc::ServerContext* ctx,
                                             const v1::GetCheckpointRequest*,
                                             v1::Checkpoint* resp) {
  auto caller = Authenticate(ctx, "GetCheckpoint", nullptr);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto cp = audit_->GetCheckpoint();
  if (!cp.ok()) return ToGrpcStatus(cp.status());
  *resp = *std::move(cp);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetEvent(grpc::ServerContext* ctx, const v1::GetEventRequest* req,
                                        v1::GetEventResponse* resp) {
  auto caller = Authenticate(ctx, "GetEvent", "audit.get_event");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = audit_->GetEvent(*caller, req->index());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetInclusionProof(grpc::ServerContext* ctx,
                                                 const v1::GetInclusionProofRequest* req,
                                                 v1::InclusionProof* resp) {
  auto caller = Authenticate(ctx, "GetInclusionProof", nullptr);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = audit_->GetInclusionProof(req->index(), req->tree_size());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetConsistencyProof(grpc::ServerContext* ctx,
                                                   const v1::GetConsistencyProofRequest* req,
                                                   v1::ConsistencyProof* resp) {
  auto caller = Authenticate(ctx, "GetConsistencyProof", nullptr);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = audit_->GetConsistencyProof(req->first(), req->second());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::Query(grpc::ServerContext* ctx, const v1::QueryAuditRequest* req,
                                     v1::QueryAuditResponse* resp) {
  auto caller = Authenticate(ctx, "Query", "audit.query");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = audit_->Query(*caller, *req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::SubjectAccessReport(grpc::ServerContext* ctx,
                                                   const v1::SubjectAccessReportRequest* req,
                                                   v1::SubjectAccessReportResponse* resp) {
  auto caller = Authenticate(ctx, "SubjectAccessReport", "audit.subject_access_report");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = audit_->SubjectAccessReport(*caller, *req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace budstikke::audit
