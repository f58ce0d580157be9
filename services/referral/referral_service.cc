#include "services/referral/referral_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/grpc_adapter.h"
#include "storage/status_macros.h"

namespace budstikke::referral {
namespace {

using common::Caller;

constexpr char kSend[] = "budstikke.v1.ReferralService/Send";
constexpr char kDraft[] = "budstikke.v1.ReferralService/Draft";
constexpr char kCosign[] = "budstikke.v1.ReferralService/Cosign";
constexpr char kReturn[] = "budstikke.v1.ReferralService/Return";
constexpr char kPostMessage[] = "budstikke.v1.ReferralService/PostMessage";
constexpr char kGetThread[] = "budstikke.v1.ReferralService/GetThread";
constexpr char kInvite[] = "budstikke.v1.ReferralService/Invite";
constexpr char kSupplement[] = "budstikke.v1.ReferralService/Supplement";
constexpr char kGet[] = "budstikke.v1.ReferralService/Get";
constexpr char kList[] = "budstikke.v1.ReferralService/List";
constexpr char kAcknowledge[] = "budstikke.v1.ReferralService/Acknowledge";
constexpr char kDecide[] = "budstikke.v1.ReferralService/Decide";
constexpr char kWithdraw[] = "budstikke.v1.ReferralService/Withdraw";
constexpr char kUploadAttachment[] = "budstikke.v1.ReferralService/UploadAttachment";
constexpr char kDownloadAttachment[] = "budstikke.v1.ReferralService/DownloadAttachment";

// The body of UploadAttachment after authentication: an upload slot first
// (before any message: a stream that never sends is refused beyond the caps),
// then metadata, then chunks into the domain's AttachmentUpload, which stages
// them as they come and stores the attachment only on a clean half-close. A read that waits longer
// than StreamStepLimit()
// (--stream-idle-seconds) cancels the call: the slot is given back.
absl::StatusOr<v1::AttachmentInfo> ReceiveUpload(
    ReferralDesk* desk, const Caller& caller, grpc::ServerContext* ctx,
    grpc::ServerReader<v1::UploadAttachmentRequest>* reader) {
  BUDSTIKKE_ASSIGN_OR_RETURN(common::StreamSlots::Slot slot, desk->ReserveUpload(caller));
  auto idle_error = [] {
    return absl::DeadlineExceededError(
        absl::StrCat("upload idle for ", absl::ToInt64Seconds(common::StreamStepLimit()),
                     " s; send the next message sooner or upload again"));
  };
  bool idle = false;
  v1::UploadAttachmentRequest msg;
  if (!common::WatchedStep(
          ctx, [&] { return reader->Read(&msg); }, &idle) ||
      !msg.has_metadata()) {
    if (idle) return idle_error();
    return absl::InvalidArgumentError("metadata must come first");
  }
  absl::StatusOr<std::unique_ptr<AttachmentUpload>> upload =
      desk->BeginUpload(caller, msg.metadata(), std::move(slot));
  if (!upload.ok()) return upload.status();
  while (common::WatchedStep(
      ctx, [&] { return reader->Read(&msg); }, &idle)) {
    if (msg.part_case() != v1::UploadAttachmentRequest::kChunk) {
      return absl::InvalidArgumentError("metadata must come only once");
    }
    absl::Status s = (*upload)->AddChunk(msg.chunk());
    if (!s.ok()) return s;
  }
  if (idle) return idle_error();
  // The client half-closed; a broken stream is cancelled and stores nothing.
  if (ctx->IsCancelled()) return absl::CancelledError("upload cancelled");
  return (*upload)->Finish();
}

}  // namespace

grpc::Status ReferralServiceImpl::Send(grpc::ServerContext* ctx, const v1::SendReferralRequest* req,
                                       v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kSend, resp, executor_,
                       [&](const Caller& c) { return desk_->Send(c, *req); });
}

grpc::Status ReferralServiceImpl::Draft(grpc::ServerContext* ctx,
                                        const v1::SendReferralRequest* req, v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kDraft, resp, executor_,
                       [&](const Caller& c) { return desk_->Draft(c, *req); });
}

grpc::Status ReferralServiceImpl::Cosign(grpc::ServerContext* ctx,
                                         const v1::CosignReferralRequest* req, v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kCosign, resp, executor_,
                       [&](const Caller& c) { return desk_->Cosign(c, req->id()); });
}

grpc::Status ReferralServiceImpl::Return(grpc::ServerContext* ctx,
                                         const v1::ReturnReferralRequest* req, v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kReturn, resp, executor_,
                       [&](const Caller& c) { return desk_->Return(c, *req); });
}

grpc::Status ReferralServiceImpl::PostMessage(grpc::ServerContext* ctx,
                                              const v1::PostReferralMessageRequest* req,
                                              v1::ReferralMessage* resp) {
  return common::Unary(ctx, *auth_, kPostMessage, resp, executor_,
                       [&](const Caller& c) { return desk_->PostMessage(c, *req); });
}

grpc::Status ReferralServiceImpl::GetThread(grpc::ServerContext* ctx,
                                            const v1::GetReferralThreadRequest* req,
                                            v1::ReferralThread* resp) {
  return common::Unary(ctx, *auth_, kGetThread, resp, executor_,
                       [&](const Caller& c) { return desk_->GetThread(c, req->referral_id()); });
}

grpc::Status ReferralServiceImpl::Invite(grpc::ServerContext* ctx,
                                         const v1::InviteToReferralRequest* req,
                                         v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kInvite, resp, executor_,
                       [&](const Caller& c) { return desk_->Invite(c, *req); });
}

grpc::Status ReferralServiceImpl::Supplement(grpc::ServerContext* ctx,
                                             const v1::SupplementReferralRequest* req,
                                             v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kSupplement, resp, executor_,
                       [&](const Caller& c) { return desk_->Supplement(c, *req); });
}

grpc::Status ReferralServiceImpl::Get(grpc::ServerContext* ctx, const v1::GetReferralRequest* req,
                                      v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kGet, resp, executor_,
                       [&](const Caller& c) { return desk_->Get(c, req->id()); });
}

grpc::Status ReferralServiceImpl::List(grpc::ServerContext* ctx,
                                       const v1::ListReferralsRequest* req,
                                       v1::ListReferralsResponse* resp) {
  return common::Unary(ctx, *auth_, kList, resp, executor_,
                       [&](const Caller& c) { return desk_->List(c, *req); });
}

grpc::Status ReferralServiceImpl::Acknowledge(grpc::ServerContext* ctx,
                                              const v1::AcknowledgeReferralRequest* req,
                                              v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kAcknowledge, resp, executor_,
                       [&](const Caller& c) { return desk_->Acknowledge(c, req->id()); });
}

grpc::Status ReferralServiceImpl::Decide(grpc::ServerContext* ctx,
                                         const v1::DecideReferralRequest* req, v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kDecide, resp, executor_,
                       [&](const Caller& c) { return desk_->Decide(c, *req); });
}

grpc::Status ReferralServiceImpl::Withdraw(grpc::ServerContext* ctx,
                                           const v1::WithdrawReferralRequest* req,
                                           v1::Referral* resp) {
  return common::Unary(ctx, *auth_, kWithdraw, resp, executor_,
                       [&](const Caller& c) { return desk_->Withdraw(c, *req); });
}

grpc::Status ReferralServiceImpl::UploadAttachment(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::UploadAttachmentRequest>* reader,
    v1::AttachmentInfo* resp) {
  // Streaming: runs on gRPC's thread for the whole stream (never the executor).
  absl::StatusOr<Caller> caller = auth_->Authenticate(ctx, kUploadAttachment);
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return common::ReplyWith(ReceiveUpload(desk_, *caller, ctx, reader), resp);
}

grpc::Status ReferralServiceImpl::DownloadAttachment(
    grpc::ServerContext* ctx, const v1::DownloadAttachmentRequest* req,
    grpc::ServerWriter<v1::DownloadAttachmentResponse>* writer) {
  absl::StatusOr<Caller> caller = auth_->Authenticate(ctx, kDownloadAttachment);
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return common::ToGrpcStatus(
      desk_->Download(*caller, req->referral_id(), req->attachment_id(),
                      [ctx, writer](const v1::DownloadAttachmentResponse& part) {
                        return common::WatchedStep(ctx, [&] { return writer->Write(part); });
                      }));
}

}  // namespace budstikke::referral
