#include "services/directory/directory_service.h"

#include "services/common/grpc_adapter.h"

namespace budstikke::directory {
namespace {

using common::Caller;

constexpr char kWhoAmI[] = "budstikke.v1.DirectoryService/WhoAmI";
constexpr char kCreateAgency[] = "budstikke.v1.DirectoryService/CreateAgency";
constexpr char kUpdateAgency[] = "budstikke.v1.DirectoryService/UpdateAgency";
constexpr char kGetAgency[] = "budstikke.v1.DirectoryService/GetAgency";
constexpr char kListAgencies[] = "budstikke.v1.DirectoryService/ListAgencies";

// The caller as the certificate (and on-behalf-of header) says, with its
// agency's directory entry if it has one.
v1::WhoAmIResponse DescribeCaller(const Directory& directory, const Caller& caller) {
  v1::WhoAmIResponse r;
  v1::Actor* actor = r.mutable_actor();
  actor->set_agency(caller.identity.agency);
  actor->set_user(caller.identity.user);
  actor->set_role(caller.identity.role);
  actor->set_service(caller.via_service);
  r.set_spiffe_id(caller.identity.spiffe_id);
  absl::StatusOr<v1::Agency> agency = directory.GetAgency(caller.identity.agency);
  if (agency.ok()) *r.mutable_agency() = *std::move(agency);
  return r;
}

absl::StatusOr<v1::ListAgenciesResponse> ToResponse(absl::StatusOr<AgencyPage> page) {
  if (!page.ok()) return page.status();
  v1::ListAgenciesResponse r;
  for (v1::Agency& a : page->agencies) *r.add_agencies() = std::move(a);
  r.set_next_page_token(std::move(page->next_page_token));
  return r;
}

}  // namespace

grpc::Status DirectoryServiceImpl::WhoAmI(grpc::ServerContext* ctx, const v1::WhoAmIRequest*,
                                          v1::WhoAmIResponse* resp) {
  return common::Unary(ctx, *auth_, kWhoAmI, resp, common::kInline,
                       [&](const Caller& c) -> absl::StatusOr<v1::WhoAmIResponse> {
                         return DescribeCaller(*directory_, c);
                       });
}

grpc::Status DirectoryServiceImpl::CreateAgency(grpc::ServerContext* ctx,
                                                const v1::CreateAgencyRequest* req,
                                                v1::Agency* resp) {
  return common::Unary(ctx, *auth_, kCreateAgency, resp, common::kInline, [&](const Caller& c) {
    return directory_->CreateAgency(c.identity, req->agency(), req->request_id());
  });
}

grpc::Status DirectoryServiceImpl::UpdateAgency(grpc::ServerContext* ctx,
                                                const v1::UpdateAgencyRequest* req,
                                                v1::Agency* resp) {
  return common::Unary(ctx, *auth_, kUpdateAgency, resp, common::kInline, [&](const Caller& c) {
    return directory_->UpdateAgency(c.identity, req->agency(),
                                    {req->update_fields().begin(), req->update_fields().end()});
  });
}

grpc::Status DirectoryServiceImpl::GetAgency(grpc::ServerContext* ctx,
                                             const v1::GetAgencyRequest* req, v1::Agency* resp) {
  return common::Unary(ctx, *auth_, kGetAgency, resp, common::kInline,
                       [&](const Caller&) { return directory_->GetAgency(req->id()); });
}

grpc::Status DirectoryServiceImpl::ListAgencies(grpc::ServerContext* ctx,
                                                const v1::ListAgenciesRequest* req,
                                                v1::ListAgenciesResponse* resp) {
  return common::Unary(ctx, *auth_, kListAgencies, resp, common::kInline, [&](const Caller&) {
    return ToResponse(directory_->ListAgencies(req->type(), req->municipality(), req->page_size(),
                                               req->page_token()));
  });
}

}  // namespace budstikke::directory
