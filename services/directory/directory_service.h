// gRPC adapter for DirectoryService: every method is common::Unary (inline):
// authenticate, call Directory, convert (common/grpc_adapter.h).
#ifndef BUDSTIKKE_SERVICES_DIRECTORY_DIRECTORY_SERVICE_H_
#define BUDSTIKKE_SERVICES_DIRECTORY_DIRECTORY_SERVICE_H_

#include "budstikke/v1/directory.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/directory/directory.h"

namespace budstikke::directory {

class DirectoryServiceImpl final : public v1::DirectoryService::Service {
 public:
  // Both must outlive the service.
  DirectoryServiceImpl(Directory* directory, const common::Authenticator* auth)
      : directory_(directory), auth_(auth) {}

  grpc::Status WhoAmI(grpc::ServerContext* ctx, const v1::WhoAmIRequest* req,
                      v1::WhoAmIResponse* resp) override;
  grpc::Status CreateAgency(grpc::ServerContext* ctx, const v1::CreateAgencyRequest* req,
                            v1::Agency* resp) override;
  grpc::Status UpdateAgency(grpc::ServerContext* ctx, const v1::UpdateAgencyRequest* req,
                            v1::Agency* resp) override;
  grpc::Status GetAgency(grpc::ServerContext* ctx, const v1::GetAgencyRequest* req,
                         v1::Agency* resp) override;
  grpc::Status ListAgencies(grpc::ServerContext* ctx, const v1::ListAgenciesRequest* req,
                            v1::ListAgenciesResponse* resp) override;

 private:
  Directory* directory_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::directory

#endif  // BUDSTIKKE_SERVICES_DIRECTORY_DIRECTORY_SERVICE_H_
