#include "services/consultation/consultation_service.h"

#include "services/common/grpc_adapter.h"

namespace budstikke::consultation {
namespace {

using common::Caller;

constexpr char kCheckText[] = "budstikke.v1.ConsultationService/CheckText";
constexpr char kAsk[] = "budstikke.v1.ConsultationService/Ask";
constexpr char kClaim[] = "budstikke.v1.ConsultationService/Claim";
constexpr char kAnswer[] = "budstikke.v1.ConsultationService/Answer";
constexpr char kAddMessage[] = "budstikke.v1.ConsultationService/AddMessage";
constexpr char kClose[] = "budstikke.v1.ConsultationService/Close";
constexpr char kGet[] = "budstikke.v1.ConsultationService/Get";
constexpr char kList[] = "budstikke.v1.ConsultationService/List";

absl::StatusOr<v1::ListConsultationsResponse> ToResponse(absl::StatusOr<ConsultationPage> page) {
  if (!page.ok()) return page.status();
  v1::ListConsultationsResponse r;
  for (v1::Consultation& c : page->consultations) *r.add_consultations() = std::move(c);
  r.set_next_page_token(std::move(page->next_page_token));
  return r;
}

}  // namespace

grpc::Status ConsultationServiceImpl::CheckText(grpc::ServerContext* ctx,
                                                const v1::CheckTextRequest* req,
                                                v1::CheckTextResponse* resp) {
  // Screening only, no storage: stays on gRPC's thread (a 64 KiB text would
  // hold a domain thread for most of a millisecond).
  return common::Unary(ctx, *auth_, kCheckText, resp, common::kInline,
                       [&](const Caller& c) { return c_->CheckText(c, req->text()); });
}

grpc::Status ConsultationServiceImpl::Ask(grpc::ServerContext* ctx,
                                          const v1::AskConsultationRequest* req,
                                          v1::Consultation* resp) {
  return common::Unary(ctx, *auth_, kAsk, resp, executor_,
                       [&](const Caller& c) { return c_->Ask(c, *req); });
}

grpc::Status ConsultationServiceImpl::Claim(grpc::ServerContext* ctx,
                                            const v1::ClaimConsultationRequest* req,
                                            v1::Consultation* resp) {
  return common::Unary(ctx, *auth_, kClaim, resp, executor_,
                       [&](const Caller& c) { return c_->Claim(c, req->id()); });
}

grpc::Status ConsultationServiceImpl::Answer(grpc::ServerContext* ctx,
                                             const v1::AnswerConsultationRequest* req,
                                             v1::Consultation* resp) {
  return common::Unary(ctx, *auth_, kAnswer, resp, executor_,
                       [&](const Caller& c) { return c_->Answer(c, *req); });
}

grpc::Status ConsultationServiceImpl::AddMessage(grpc::ServerContext* ctx,
                                                 const v1::AddConsultationMessageRequest* req,
                                                 v1::Consultation* resp) {
  return common::Unary(ctx, *auth_, kAddMessage, resp, executor_,
                       [&](const Caller& c) { return c_->AddMessage(c, *req); });
}

grpc::Status ConsultationServiceImpl::Close(grpc::ServerContext* ctx,
                                            const v1::CloseConsultationRequest* req,
                                            v1::Consultation* resp) {
  return common::Unary(ctx, *auth_, kClose, resp, executor_,
                       [&](const Caller& c) { return c_->Close(c, req->id()); });
}

grpc::Status ConsultationServiceImpl::Get(grpc::ServerContext* ctx,
                                          const v1::GetConsultationRequest* req,
                                          v1::Consultation* resp) {
  return common::Unary(ctx, *auth_, kGet, resp, executor_,
                       [&](const Caller& c) { return c_->Get(c, req->id()); });
}

grpc::Status ConsultationServiceImpl::List(grpc::ServerContext* ctx,
                                           const v1::ListConsultationsRequest* req,
                                           v1::ListConsultationsResponse* resp) {
  return common::Unary(ctx, *auth_, kList, resp, executor_,
                       [&](const Caller& c) { return ToResponse(c_->List(c, *req)); });
}

}  // namespace budstikke::consultation
