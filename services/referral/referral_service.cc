#include "services/referral/referral_service.h"

#include "services/common/grpc_status.h"

namespace budstikke::referral {
namespace {

constexpr char kService[] = "budstikke.v1.ReferralService/";

std::string Method(const char* name) { return std::string(kService) + name; }

}  // namespace

#define BUDSTIKKE_AUTH_OR_RETURN(name)                  \
  auto caller = auth_->Authenticate(ctx, Method(name)); \
  if (!caller.ok()) return common::ToGrpcStatus(caller.status())

grpc::Status ReferralServiceImpl::Send(grpc::ServerContext* ctx, const v1::SendReferralRequest* req,
                                       v1::Referral* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("Send");
  return common::ReplyWith(common::RunOn(executor_, [&] { return desk_->Send(*caller, *req); }),
                           resp);
}

grpc::Status ReferralServiceImpl::Get(grpc::ServerContext* ctx, const v1::GetReferralRequest* req,
                                      v1::Referral* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("Get");
  return common::ReplyWith(common::RunOn(executor_, [&] { return desk_->Get(*caller, req->id()); }),
                           resp);
}

grpc::Status ReferralServiceImpl::List(grpc::ServerContext* ctx,
                                       const v1::ListReferralsRequest* req,
                                       v1::ListReferralsResponse* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("List");
  return common::ReplyWith(common::RunOn(executor_, [&] { return desk_->List(*caller, *req); }),
                           resp);
}

grpc::Status ReferralServiceImpl::Acknowledge(grpc::ServerContext* ctx,
                                              const v1::AcknowledgeReferralRequest* req,
                                              v1::Referral* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("Acknowledge");
  return common::ReplyWith(
      common::RunOn(executor_, [&] { return desk_->Acknowledge(*caller, req->id()); }), resp);
}

grpc::Status ReferralServiceImpl::Decide(grpc::ServerContext* ctx,
                                         const v1::DecideReferralRequest* req, v1::Referral* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("Decide");
  return common::ReplyWith(common::RunOn(executor_, [&] { return desk_->Decide(*caller, *req); }),
                           resp);
}

grpc::Status ReferralServiceImpl::Withdraw(grpc::ServerContext* ctx,
                                           const v1::WithdrawReferralRequest* req,
                                           v1::Referral* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("Withdraw");
  return common::ReplyWith(common::RunOn(executor_, [&] { return desk_->Withdraw(*caller, *req); }),
                           resp);
}

grpc::Status ReferralServiceImpl::UploadAttachment(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::UploadAttachmentRequest>* reader,
    v1::AttachmentInfo* resp) {
  BUDSTIKKE_AUTH_OR_RETURN("UploadAttachment");
  v1::UploadAttachmentRequest msg;
  if (!reader->Read(&msg) || !msg.has_metadata()) {
    return common::ToGrpcStatus(absl::InvalidArgumentError("metadata must come first"));
  }
  auto upload = desk_->BeginUpload(*caller, msg.metadata());
  if (!upload.ok()) return common::ToGrpcStatus(upload.status());
  while (reader->Read(&msg)) {
    if (msg.part_case() != v1::UploadAttachmentRequest::kChunk) {
      return common::ToGrpcStatus(absl::InvalidArgumentError("metadata must come only once"));
    }
    absl::Status s = (*upload)->AddChunk(msg.chunk());
    if (!s.ok()) return common::ToGrpcStatus(s);
  }
  // The client half-closed; a broken stream is cancelled and stores nothing.
  if (ctx->IsCancelled()) {
    return common::ToGrpcStatus(absl::CancelledError("upload cancelled"));
  }
  return common::ReplyWith((*upload)->Finish(), resp);
}

grpc::Status ReferralServiceImpl::DownloadAttachment(
    grpc::ServerContext* ctx, const v1::DownloadAttachmentRequest* req,
    grpc::ServerWriter<v1::DownloadAttachmentResponse>* writer) {
  BUDSTIKKE_AUTH_OR_RETURN("DownloadAttachment");
  return common::ToGrpcStatus(desk_->Download(
      *caller, req->referral_id(), req->attachment_id(),
      [writer](const v1::DownloadAttachmentResponse& part) { return writer->Write(part); }));
}

}  // namespace budstikke::referral
