// gRPC adapter for AuditService: every method is common::Unary (inline):
// authenticate, call Audit, convert. A call the authorization table refuses is
// itself audited by the shared Authenticator (outcome DENIED, rule
// "authz.role", into the audit outbox the server gives it with
// SetAuditOutbox) before PERMISSION_DENIED is returned.
#ifndef BUDSTIKKE_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define BUDSTIKKE_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include "budstikke/v1/audit.grpc.pb.h"
#include "services/audit/audit.h"
#include "services/common/grpc_auth.h"

namespace budstikke::audit {

class AuditServiceImpl final : public v1::AuditService::Service {
 public:
  // Both must outlive the service.
  AuditServiceImpl(Audit* audit, const common::Authenticator* auth) : audit_(audit), auth_(auth) {}

  grpc::Status GetPublicKey(grpc::ServerContext* ctx, const v1::GetPublicKeyRequest* req,
                            v1::GetPublicKeyResponse* resp) override;
  grpc::Status GetCheckpoint(grpc::ServerContext* ctx, const v1::GetCheckpointRequest* req,
                             v1::Checkpoint* resp) override;
  grpc::Status GetEvent(grpc::ServerContext* ctx, const v1::GetEventRequest* req,
                        v1::GetEventResponse* resp) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* ctx, const v1::GetInclusionProofRequest* req,
                                 v1::InclusionProof* resp) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* ctx,
                                   const v1::GetConsistencyProofRequest* req,
                                   v1::ConsistencyProof* resp) override;
  grpc::Status Query(grpc::ServerContext* ctx, const v1::QueryAuditRequest* req,
                     v1::QueryAuditResponse* resp) override;
  grpc::Status SubjectAccessReport(grpc::ServerContext* ctx,
                                   const v1::SubjectAccessReportRequest* req,
                                   v1::SubjectAccessReportResponse* resp) override;

 private:
  Audit* audit_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::audit

#endif  // BUDSTIKKE_SERVICES_AUDIT_AUDIT_SERVICE_H_
