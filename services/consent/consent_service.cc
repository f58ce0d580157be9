#include "services/consent/consent_service.h"

#include "services/common/grpc_status.h"

namespace budstikke::consent {
namespace {

constexpr char kService[] = "budstikke.v1.ConsentService/";

std::string Method(const char* name) { return std::string(kService) + name; }

template <typename T, typename R>
grpc::Status Reply(absl::StatusOr<T> result, R* resp) {
  if (!result.ok()) return common::ToGrpcStatus(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status ConsentServiceImpl::Record(grpc::ServerContext* ctx,
                                        const v1::RecordConsentRequest* req, v1::Consent* resp) {
  auto caller = auth_->Authenticate(ctx, Method("Record"));
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return Reply(registry_->Record(*caller, *req), resp);
}

grpc::Status ConsentServiceImpl::Revoke(grpc::ServerContext* ctx,
                                        const v1::RevokeConsentRequest* req, v1::Consent* resp) {
  auto caller = auth_->Authenticate(ctx, Method("Revoke"));
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return Reply(registry_->Revoke(*caller, *req), resp);
}

grpc::Status ConsentServiceImpl::Get(grpc::ServerContext* ctx, const v1::GetConsentRequest* req,
                                     v1::Consent* resp) {
  auto caller = auth_->Authenticate(ctx, Method("Get"));
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return Reply(registry_->Get(*caller, req->id()), resp);
}

grpc::Status ConsentServiceImpl::List(grpc::ServerContext* ctx,
                                      const v1::ListConsentsRequest* req,
                                      v1::ListConsentsResponse* resp) {
  auto caller = auth_->Authenticate(ctx, Method("List"));
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return Reply(registry_->List(*caller, *req), resp);
}

}  // namespace budstikke::consent
