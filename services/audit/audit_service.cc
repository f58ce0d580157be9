#include "services/audit/audit_service.h"

#include "services/common/grpc_adapter.h"

namespace budstikke::audit {
namespace {

using common::Caller;

constexpr char kGetPublicKey[] = "budstikke.v1.AuditService/GetPublicKey";
constexpr char kGetCheckpoint[] = "budstikke.v1.AuditService/GetCheckpoint";
constexpr char kGetEvent[] = "budstikke.v1.AuditService/GetEvent";
constexpr char kGetInclusionProof[] = "budstikke.v1.AuditService/GetInclusionProof";
constexpr char kGetConsistencyProof[] = "budstikke.v1.AuditService/GetConsistencyProof";
constexpr char kQuery[] = "budstikke.v1.AuditService/Query";
constexpr char kSubjectAccessReport[] = "budstikke.v1.AuditService/SubjectAccessReport";

}  // namespace

grpc::Status AuditServiceImpl::GetPublicKey(grpc::ServerContext* ctx,
                                            const v1::GetPublicKeyRequest*,
                                            v1::GetPublicKeyResponse* resp) {
  return common::Unary(ctx, *auth_, kGetPublicKey, resp, common::kInline,
                       [&](const Caller&) -> absl::StatusOr<v1::GetPublicKeyResponse> {
                         return audit_->GetPublicKey();
                       });
}

grpc::Status AuditServiceImpl::GetCheckpoint(grpc::ServerContext* ctx,
                                             const v1::GetCheckpointRequest*,
                                             v1::Checkpoint* resp) {
  return common::Unary(ctx, *auth_, kGetCheckpoint, resp, common::kInline,
                       [&](const Caller&) { return audit_->GetCheckpoint(); });
}

grpc::Status AuditServiceImpl::GetEvent(grpc::ServerContext* ctx, const v1::GetEventRequest* req,
                                        v1::GetEventResponse* resp) {
  return common::Unary(ctx, *auth_, kGetEvent, resp, common::kInline,
                       [&](const Caller& c) { return audit_->GetEvent(c, req->index()); });
}

grpc::Status AuditServiceImpl::GetInclusionProof(grpc::ServerContext* ctx,
                                                 const v1::GetInclusionProofRequest* req,
                                                 v1::InclusionProof* resp) {
  return common::Unary(ctx, *auth_, kGetInclusionProof, resp, common::kInline, [&](const Caller&) {
    return audit_->GetInclusionProof(req->index(), req->tree_size());
  });
}

grpc::Status AuditServiceImpl::GetConsistencyProof(grpc::ServerContext* ctx,
                                                   const v1::GetConsistencyProofRequest* req,
                                                   v1::ConsistencyProof* resp) {
  return common::Unary(
      ctx, *auth_, kGetConsistencyProof, resp, common::kInline,
      [&](const Caller&) { return audit_->GetConsistencyProof(req->first(), req->second()); });
}

grpc::Status AuditServiceImpl::Query(grpc::ServerContext* ctx, const v1::QueryAuditRequest* req,
                                     v1::QueryAuditResponse* resp) {
  return common::Unary(ctx, *auth_, kQuery, resp, common::kInline,
                       [&](const Caller& c) { return audit_->Query(c, *req); });
}

grpc::Status AuditServiceImpl::SubjectAccessReport(grpc::ServerContext* ctx,
                                                   const v1::SubjectAccessReportRequest* req,
                                                   v1::SubjectAccessReportResponse* resp) {
  return common::Unary(ctx, *auth_, kSubjectAccessReport, resp, common::kInline,
                       [&](const Caller& c) { return audit_->SubjectAccessReport(c, *req); });
}

}  // namespace budstikke::audit
