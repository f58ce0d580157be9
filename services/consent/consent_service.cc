#include "services/consent/consent_service.h"

#include "services/common/grpc_adapter.h"

namespace budstikke::consent {
namespace {

using common::Caller;

constexpr char kRecord[] = "budstikke.v1.ConsentService/Record";
constexpr char kRevoke[] = "budstikke.v1.ConsentService/Revoke";
constexpr char kGet[] = "budstikke.v1.ConsentService/Get";
constexpr char kList[] = "budstikke.v1.ConsentService/List";

}  // namespace

grpc::Status ConsentServiceImpl::Record(grpc::ServerContext* ctx,
                                        const v1::RecordConsentRequest* req, v1::Consent* resp) {
  return common::Unary(ctx, *auth_, kRecord, resp, common::kInline,
                       [&](const Caller& c) { return registry_->Record(c, *req); });
}

grpc::Status ConsentServiceImpl::Revoke(grpc::ServerContext* ctx,
                                        const v1::RevokeConsentRequest* req, v1::Consent* resp) {
  return common::Unary(ctx, *auth_, kRevoke, resp, common::kInline,
                       [&](const Caller& c) { return registry_->Revoke(c, *req); });
}

grpc::Status ConsentServiceImpl::Get(grpc::ServerContext* ctx, const v1::GetConsentRequest* req,
                                     v1::Consent* resp) {
  return common::Unary(ctx, *auth_, kGet, resp, common::kInline,
                       [&](const Caller& c) { return registry_->Get(c, req->id()); });
}

grpc::Status ConsentServiceImpl::List(grpc::ServerContext* ctx, const v1::ListConsentsRequest* req,
                                      v1::ListConsentsResponse* resp) {
  return common::Unary(ctx, *auth_, kList, resp, common::kInline,
                       [&](const Caller& c) { return registry_->List(c, *req); });
}

}  // namespace budstikke::consent
