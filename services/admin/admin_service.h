// gRPC adapter for AdminService: every method is common::Unary (inline):
// authenticate, call Admin, convert (common/grpc_adapter.h).
#ifndef BUDSTIKKE_SERVICES_ADMIN_ADMIN_SERVICE_H_
#define BUDSTIKKE_SERVICES_ADMIN_ADMIN_SERVICE_H_

#include "budstikke/v1/admin.grpc.pb.h"
#include "services/admin/admin.h"
#include "services/common/grpc_auth.h"

namespace budstikke::admin {

class AdminServiceImpl final : public v1::AdminService::Service {
 public:
  AdminServiceImpl(Admin* admin, const common::Authenticator* auth) : admin_(admin), auth_(auth) {}

  grpc::Status GetKeyStatus(grpc::ServerContext* ctx, const v1::GetKeyStatusRequest* req,
                            v1::AgencyKeyStatus* resp) override;
  grpc::Status RotateAgencyKey(grpc::ServerContext* ctx, const v1::RotateAgencyKeyRequest* req,
                               v1::AgencyKeyStatus* resp) override;
  grpc::Status ShredAgencyKeyVersion(grpc::ServerContext* ctx,
                                     const v1::ShredAgencyKeyVersionRequest* req,
                                     v1::AgencyKeyStatus* resp) override;
  grpc::Status GetRewrapProgress(grpc::ServerContext* ctx, const v1::GetRewrapProgressRequest* req,
                                 v1::RewrapProgress* resp) override;
  grpc::Status CreateBackup(grpc::ServerContext* ctx, const v1::CreateBackupRequest* req,
                            v1::Backup* resp) override;
  grpc::Status GetServerInfo(grpc::ServerContext* ctx, const v1::GetServerInfoRequest* req,
                             v1::ServerInfo* resp) override;

 private:
  Admin* admin_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::admin

#endif  // BUDSTIKKE_SERVICES_ADMIN_ADMIN_SERVICE_H_
