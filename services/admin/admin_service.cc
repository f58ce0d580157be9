#include "services/admin/admin_service.h"

#include "services/common/grpc_adapter.h"

namespace budstikke::admin {
namespace {

using common::Caller;

constexpr char kGetKeyStatus[] = "budstikke.v1.AdminService/GetKeyStatus";
constexpr char kRotateAgencyKey[] = "budstikke.v1.AdminService/RotateAgencyKey";
constexpr char kShredAgencyKeyVersion[] = "budstikke.v1.AdminService/ShredAgencyKeyVersion";
constexpr char kGetRewrapProgress[] = "budstikke.v1.AdminService/GetRewrapProgress";
constexpr char kCreateBackup[] = "budstikke.v1.AdminService/CreateBackup";
constexpr char kGetServerInfo[] = "budstikke.v1.AdminService/GetServerInfo";

}  // namespace

grpc::Status AdminServiceImpl::GetKeyStatus(grpc::ServerContext* ctx,
                                            const v1::GetKeyStatusRequest* req,
                                            v1::AgencyKeyStatus* resp) {
  return common::Unary(ctx, *auth_, kGetKeyStatus, resp, common::kInline,
                       [&](const Caller& c) { return admin_->GetKeyStatus(c, req->agency()); });
}

grpc::Status AdminServiceImpl::RotateAgencyKey(grpc::ServerContext* ctx,
                                               const v1::RotateAgencyKeyRequest* req,
                                               v1::AgencyKeyStatus* resp) {
  return common::Unary(ctx, *auth_, kRotateAgencyKey, resp, common::kInline, [&](const Caller& c) {
    return admin_->RotateAgencyKey(c, req->agency(), req->request_id());
  });
}

grpc::Status AdminServiceImpl::ShredAgencyKeyVersion(grpc::ServerContext* ctx,
                                                     const v1::ShredAgencyKeyVersionRequest* req,
                                                     v1::AgencyKeyStatus* resp) {
  return common::Unary(ctx, *auth_, kShredAgencyKeyVersion, resp, common::kInline,
                       [&](const Caller& c) {
                         return admin_->ShredAgencyKeyVersion(c, req->agency(), req->version(),
                                                              req->confirm(), req->force());
                       });
}

grpc::Status AdminServiceImpl::GetRewrapProgress(grpc::ServerContext* ctx,
                                                 const v1::GetRewrapProgressRequest* req,
                                                 v1::RewrapProgress* resp) {
  return common::Unary(
      ctx, *auth_, kGetRewrapProgress, resp, common::kInline,
      [&](const Caller& c) { return admin_->GetRewrapProgress(c, req->agency()); });
}

grpc::Status AdminServiceImpl::CreateBackup(grpc::ServerContext* ctx,
                                            const v1::CreateBackupRequest* req, v1::Backup* resp) {
  return common::Unary(ctx, *auth_, kCreateBackup, resp, common::kInline, [&](const Caller& c) {
    return admin_->CreateBackup(c, req->dest_dir(), req->request_id());
  });
}

grpc::Status AdminServiceImpl::GetServerInfo(grpc::ServerContext* ctx,
                                             const v1::GetServerInfoRequest*,
                                             v1::ServerInfo* resp) {
  return common::Unary(
      ctx, *auth_, kGetServerInfo, resp, common::kInline,
      [&](const Caller&) -> absl::StatusOr<v1::ServerInfo> { return admin_->GetServerInfo(); });
}

}  // namespace budstikke::admin
