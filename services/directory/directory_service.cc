#include "services/directory/directory_service.h"

#include "services/common/grpc_status.h"

namespace budstikke::directory {
namespace {

constexpr char kService[] = "budstikke.v1.DirectoryService/";

std::string Method(const char* name) { return std::string(kService) + name; }

}  // namespace

using common::ToGrpcStatus;

grpc::Status DirectoryServiceImpl::WhoAmI(grpc::ServerContext* ctx, const v1::WhoAmIRequest*,
                                          v1::WhoAmIResponse* resp) {
  auto caller = auth_->Authenticate(ctx, Method("WhoAmI"));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::Actor* actor = resp->mutable_actor();
  actor->set_agency(caller->identity.agency);
  actor->set_user(caller->identity.user);
  actor->set_role(caller->identity.role);
  actor->set_service(caller->via_service);
  resp->set_spiffe_id(caller->identity.spiffe_id);
  auto agency = directory_->GetAgency(caller->identity.agency);
  if (agency.ok()) *resp->mutable_agency() = *agency;
  return grpc::Status::OK;
}

grpc::Status DirectoryServiceImpl::CreateAgency(grpc::ServerContext* ctx,
                                                const v1::CreateAgencyRequest* req,
                                                v1::Agency* resp) {
  auto caller = auth_->Authenticate(ctx, Method("CreateAgency"));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto agency = directory_->CreateAgency(caller->identity, req->agency(), req->request_id());
  if (!agency.ok()) return ToGrpcStatus(agency.status());
  *resp = *std::move(agency);
  return grpc::Status::OK;
}

grpc::Status DirectoryServiceImpl::UpdateAgency(grpc::ServerContext* ctx,
                                                const v1::UpdateAgencyRequest* req,
                                                v1::Agency* resp) {
  auto caller = auth_->Authenticate(ctx, Method("UpdateAgency"));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto agency = directory_->UpdateAgency(caller->identity, req->agency());
  if (!agency.ok()) return ToGrpcStatus(agency.status());
  *resp = *std::move(agency);
  return grpc::Status::OK;
}

grpc::Status DirectoryServiceImpl::GetAgency(grpc::ServerContext* ctx,
                                             const v1::GetAgencyRequest* req,
                                             v1::Agency* resp) {
  auto caller = auth_->Authenticate(ctx, Method("GetAgency"));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto agency = directory_->GetAgency(req->id());
  if (!agency.ok()) return ToGrpcStatus(agency.status());
  *resp = *std::move(agency);
  return grpc::Status::OK;
}

grpc::Status DirectoryServiceImpl::ListAgencies(grpc::ServerContext* ctx,
                                                const v1::ListAgenciesRequest* req,
                                                v1::ListAgenciesResponse* resp) {
  auto caller = auth_->Authenticate(ctx, Method("ListAgencies"));
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto page = directory_->ListAgencies(req->type(), req->municipality(), req->page_size(),
                                       req->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Agency& a : page->agencies) *resp->add_agencies() = std::move(a);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

}  // namespace budstikke::directory
