// ReferralServiceImpl: the thin gRPC adapter of ReferralDesk. Every method
// authenticates and authorizes first (common::Authenticator), then calls the
// domain and converts the status once (common::ToGrpcStatus). Unary methods
// are common::Unary on the domain executor (common/grpc_adapter.h); the two
// streaming ones run on gRPC's thread. Uploads are
// handed to the domain chunk by chunk (which stages them in the store as they
// arrive); a stream that ends early (client disconnect) never reaches
// AttachmentUpload::Finish, and the upload deletes what it staged.
// An upload takes its slot (ReferralDesk::ReserveUpload) when the stream
// opens; a read or write of a stream that waits longer than
// common::StreamStepLimit() (--stream-idle-seconds) cancels the call.
#ifndef BUDSTIKKE_SERVICES_REFERRAL_REFERRAL_SERVICE_H_
#define BUDSTIKKE_SERVICES_REFERRAL_REFERRAL_SERVICE_H_

#include "absl/time/time.h"
#include "budstikke/v1/referral.grpc.pb.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/referral/referral.h"

namespace budstikke::referral {

class ReferralServiceImpl final : public v1::ReferralService::Service {
 public:
  // All must outlive the service. A null executor runs domain calls inline.
  ReferralServiceImpl(ReferralDesk* desk, const common::Authenticator* auth,
                      common::DomainExecutor* executor = nullptr)
      : desk_(desk), auth_(auth), executor_(executor) {}

  grpc::Status Send(grpc::ServerContext* ctx, const v1::SendReferralRequest* req,
                    v1::Referral* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetReferralRequest* req,
                   v1::Referral* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListReferralsRequest* req,
                    v1::ListReferralsResponse* resp) override;
  grpc::Status Acknowledge(grpc::ServerContext* ctx, const v1::AcknowledgeReferralRequest* req,
                           v1::Referral* resp) override;
  grpc::Status Decide(grpc::ServerContext* ctx, const v1::DecideReferralRequest* req,
                      v1::Referral* resp) override;
  grpc::Status Draft(grpc::ServerContext* ctx, const v1::SendReferralRequest* req,
                     v1::Referral* resp) override;
  grpc::Status Cosign(grpc::ServerContext* ctx, const v1::CosignReferralRequest* req,
                      v1::Referral* resp) override;
  grpc::Status Return(grpc::ServerContext* ctx, const v1::ReturnReferralRequest* req,
                      v1::Referral* resp) override;
  grpc::Status PostMessage(grpc::ServerContext* ctx, const v1::PostReferralMessageRequest* req,
                           v1::ReferralMessage* resp) override;
  grpc::Status GetThread(grpc::ServerContext* ctx, const v1::GetReferralThreadRequest* req,
                         v1::ReferralThread* resp) override;
  grpc::Status Invite(grpc::ServerContext* ctx, const v1::InviteToReferralRequest* req,
                      v1::Referral* resp) override;
  grpc::Status Supplement(grpc::ServerContext* ctx, const v1::SupplementReferralRequest* req,
                          v1::Referral* resp) override;
  grpc::Status Withdraw(grpc::ServerContext* ctx, const v1::WithdrawReferralRequest* req,
                        v1::Referral* resp) override;
  grpc::Status UploadAttachment(grpc::ServerContext* ctx,
                                grpc::ServerReader<v1::UploadAttachmentRequest>* reader,
                                v1::AttachmentInfo* resp) override;
  grpc::Status DownloadAttachment(
      grpc::ServerContext* ctx, const v1::DownloadAttachmentRequest* req,
      grpc::ServerWriter<v1::DownloadAttachmentResponse>* writer) override;

 private:
  ReferralDesk* desk_;
  const common::Authenticator* auth_;
  common::DomainExecutor* executor_;
};

}  // namespace budstikke::referral

#endif  // BUDSTIKKE_SERVICES_REFERRAL_REFERRAL_SERVICE_H_
