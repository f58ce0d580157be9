#include "services/referral/referral_service.h"

#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
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

// Cancels the call when no message arrived for `idle`: an upload that stalls
// gives its slot back (a client that never sends would otherwise hold it, and
// a gRPC thread, for ever). One thread per upload in progress (capped).
class IdleWatch {
 public:
  IdleWatch(grpc::ServerContext* ctx, absl::Duration idle)
      : ctx_(ctx), idle_(idle), last_(absl::Now()), thread_([this] { Run(); }) {}
  IdleWatch(const IdleWatch&) = delete;
  IdleWatch& operator=(const IdleWatch&) = delete;
  ~IdleWatch() {
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
    }
    thread_.join();
  }
  void Touch() {
    absl::MutexLock lock(&mu_);
    last_ = absl::Now();
  }
  // The call was cancelled for idleness.
  bool fired() const {
    absl::MutexLock lock(&mu_);
    return fired_;
  }

 private:
  void Run() {
    absl::MutexLock lock(&mu_);
    while (!done_) {
      const absl::Time deadline = last_ + idle_;
      if (absl::Now() >= deadline) {
        fired_ = true;
        ctx_->TryCancel();
        return;
      }
      mu_.AwaitWithDeadline(absl::Condition(&done_), deadline);
    }
  }

  grpc::ServerContext* const ctx_;
  const absl::Duration idle_;
  mutable absl::Mutex mu_;
  absl::Time last_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool fired_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: starts once the fields above exist
};

// The body of UploadAttachment after authentication: an upload slot first
// (before any message: a stream that never sends is refused beyond the caps),
// then metadata, then chunks into the domain's AttachmentUpload, stored only
// on a clean half-close. Idle for `idle` between messages: cancelled.
absl::StatusOr<v1::AttachmentInfo> ReceiveUpload(
    ReferralDesk* desk, const Caller& caller, grpc::ServerContext* ctx,
    grpc::ServerReader<v1::UploadAttachmentRequest>* reader, absl::Duration idle) {
  BUDSTIKKE_ASSIGN_OR_RETURN(common::StreamSlots::Slot slot, desk->ReserveUpload(caller));
  std::optional<IdleWatch> watch;
  watch.emplace(ctx, idle);
  auto idle_error = [&] {
    return absl::DeadlineExceededError(
        absl::StrCat("upload cancelled: nothing received for ", absl::FormatDuration(idle)));
  };
  v1::UploadAttachmentRequest msg;
  if (!reader->Read(&msg) || !msg.has_metadata()) {
    if (watch->fired()) return idle_error();
    return absl::InvalidArgumentError("metadata must come first");
  }
  watch->Touch();
  absl::StatusOr<std::unique_ptr<AttachmentUpload>> upload =
      desk->BeginUpload(caller, msg.metadata(), std::move(slot));
  if (!upload.ok()) return upload.status();
  while (reader->Read(&msg)) {
    watch->Touch();
    if (msg.part_case() != v1::UploadAttachmentRequest::kChunk) {
      return absl::InvalidArgumentError("metadata must come only once");
    }
    absl::Status s = (*upload)->AddChunk(msg.chunk());
    if (!s.ok()) return s;
  }
  if (watch->fired()) return idle_error();
  watch.reset();
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
  return common::ReplyWith(ReceiveUpload(desk_, *caller, ctx, reader, upload_idle_), resp);
}

grpc::Status ReferralServiceImpl::DownloadAttachment(
    grpc::ServerContext* ctx, const v1::DownloadAttachmentRequest* req,
    grpc::ServerWriter<v1::DownloadAttachmentResponse>* writer) {
  absl::StatusOr<Caller> caller = auth_->Authenticate(ctx, kDownloadAttachment);
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  return common::ToGrpcStatus(desk_->Download(
      *caller, req->referral_id(), req->attachment_id(),
      [writer](const v1::DownloadAttachmentResponse& part) { return writer->Write(part); }));
}

}  // namespace budstikke::referral
