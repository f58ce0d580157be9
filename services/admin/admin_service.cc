#include "services/admin/admin_service.h"

#include "services/common/grpc_status.h"

namespace budstikke::admin {
namespace {

using common::ToGrpcStatus;

// Authenticates, runs `body(caller)` and copies its result into `resp`.
template <typename Response, typename Body>
grpc::Status Handle(const common::Authenticator* auth, grpc::ServerContext* ctx,
                    const char* method, Response* resp, Body body) {
  auto caller = auth->Authenticate(ctx, std::string("budstikke.v1.AdminService/") + method);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto result = body(*caller);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status AdminServiceImpl::GetKeyStatus(grpc::ServerContext* ctx,
                                            const v1::GetKeyStatusRequest* req,
                                            v1::AgencyKeyStatus* resp) {
  return Handle(auth_, ctx, "GetKeyStatus", resp, [&](const common::Caller& c) {
    return admin_->GetKeyStatus(c, req->agency());
  });
}

grpc::Status AdminServiceImpl::RotateAgencyKey(grpc::ServerContext* ctx,
                                               const v1::RotateAgencyKeyRequest* req,
                                               v1::AgencyKeyStatus* resp) {
  return Handle(auth_, ctx, "RotateAgencyKey", resp, [&](const common::Caller& c) {
    return admin_->RotateAgencyKey(c, req->agency(), req->request_id());
  });
}

grpc::Status AdminServiceImpl::ShredAgencyKeyVersion(grpc::ServerContext* ctx,
                                                     const v1::ShredAgencyKeyVersionRequest* req,
                                                     v1::AgencyKeyStatus* resp) {
  return Handle(auth_, ctx, "ShredAgencyKeyVersion", resp, [&](const common::Caller& c) {
    return admin_->ShredAgencyKeyVersion(c, req->agency(), req->version(), req->confirm());
  });
}

grpc::Status AdminServiceImpl::GetRewrapProgress(grpc::ServerContext* ctx,
                                                 const v1::GetRewrapProgressRequest* req,
                                                 v1::RewrapProgress* resp) {
  return Handle(auth_, ctx, "GetRewrapProgress", resp, [&](const common::Caller& c) {
    return admin_->GetRewrapProgress(c, req->agency());
  });
}

grpc::Status AdminServiceImpl::CreateBackup(grpc::ServerContext* ctx,
                                            const v1::CreateBackupRequest* req,
                                            v1::Backup* resp) {
  return Handle(auth_, ctx, "CreateBackup", resp, [&](const common::Caller& c) {
    return admin_->CreateBackup(c, req->dest_dir(), req->request_id());
  });
}

grpc::Status AdminServiceImpl::GetServerInfo(grpc::ServerContext* ctx,
                                             const v1::GetServerInfoRequest*,
                                             v1::ServerInfo* resp) {
  return Handle(auth_, ctx, "GetServerInfo", resp,
                [&](const common::Caller&) -> absl::StatusOr<v1::ServerInfo> {
                  return admin_->GetServerInfo();
                });
}

}  // namespace budstikke::admin
