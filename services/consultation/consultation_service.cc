#include "services/consultation/consultation_service.h"

#include <string>

#include "services/common/grpc_status.h"

namespace budstikke::consultation {
namespace {

std::string Method(const char* name) {
  return std::string("budstikke.v1.ConsultationService/") + name;
}

template <typename T, typename Fn>
grpc::Status Unary(const common::Authenticator* auth, common::DomainExecutor* executor,
                   grpc::ServerContext* ctx, const char* method, T* resp, Fn fn) {
  auto caller = auth->Authenticate(ctx, Method(method));
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return common::ReplyWith(common::RunOn(executor, [&] { return fn(*caller); }), resp);
}

}  // namespace

using common::Caller;

grpc::Status ConsultationServiceImpl::CheckText(grpc::ServerContext* ctx,
                                                const v1::CheckTextRequest* req,
                                                v1::CheckTextResponse* resp) {
  // Screening only, no storage: stays on gRPC's thread (a 64 KiB text would
  // hold a domain thread for most of a millisecond).
  return Unary(auth_, /*executor=*/nullptr, ctx, "CheckText", resp,
               [&](const Caller& c) { return c_->CheckText(c, req->text()); });
}

grpc::Status ConsultationServiceImpl::Ask(grpc::ServerContext* ctx,
                                          const v1::AskConsultationRequest* req,
                                          v1::Consultation* resp) {
  return Unary(auth_, executor_, ctx, "Ask", resp,
               [&](const Caller& c) { return c_->Ask(c, *req); });
}

grpc::Status ConsultationServiceImpl::Claim(grpc::ServerContext* ctx,
                                            const v1::ClaimConsultationRequest* req,
                                            v1::Consultation* resp) {
  return Unary(auth_, executor_, ctx, "Claim", resp,
               [&](const Caller& c) { return c_->Claim(c, req->id()); });
}

grpc::Status ConsultationServiceImpl::Answer(grpc::ServerContext* ctx,
                                             const v1::AnswerConsultationRequest* req,
                                             v1::Consultation* resp) {
  return Unary(auth_, executor_, ctx, "Answer", resp,
               [&](const Caller& c) { return c_->Answer(c, *req); });
}

grpc::Status ConsultationServiceImpl::AddMessage(grpc::ServerContext* ctx,
                                                 const v1::AddConsultationMessageRequest* req,
                                                 v1::Consultation* resp) {
  return Unary(auth_, executor_, ctx, "AddMessage", resp,
               [&](const Caller& c) { return c_->AddMessage(c, *req); });
}

grpc::Status ConsultationServiceImpl::Close(grpc::ServerContext* ctx,
                                            const v1::CloseConsultationRequest* req,
                                            v1::Consultation* resp) {
  return Unary(auth_, executor_, ctx, "Close", resp,
               [&](const Caller& c) { return c_->Close(c, req->id()); });
}

grpc::Status ConsultationServiceImpl::Get(grpc::ServerContext* ctx,
                                          const v1::GetConsultationRequest* req,
                                          v1::Consultation* resp) {
  return Unary(auth_, executor_, ctx, "Get", resp,
               [&](const Caller& c) { return c_->Get(c, req->id()); });
}

grpc::Status ConsultationServiceImpl::List(grpc::ServerContext* ctx,
                                           const v1::ListConsultationsRequest* req,
                                           v1::ListConsultationsResponse* resp) {
  auto caller = auth_->Authenticate(ctx, Method("List"));
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  auto page = common::RunOn(executor_, [&] { return c_->List(*caller, *req); });
  if (!page.ok()) return common::ToGrpcStatus(page.status());
  for (auto& c : page->consultations) *resp->add_consultations() = std::move(c);
  resp->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

}  // namespace budstikke::consultation
