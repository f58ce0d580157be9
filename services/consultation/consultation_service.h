// gRPC adapter for ConsultationService: authenticate (authorization table),
// call Consultations (consultation.h), convert the status.
#ifndef BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_SERVICE_H_
#define BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_SERVICE_H_

#include "budstikke/v1/consultation.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/consultation/consultation.h"

namespace budstikke::consultation {

class ConsultationServiceImpl final : public v1::ConsultationService::Service {
 public:
  // Both must outlive the service.
  ConsultationServiceImpl(Consultations* consultations, const common::Authenticator* auth)
      : c_(consultations), auth_(auth) {}

  grpc::Status CheckText(grpc::ServerContext* ctx, const v1::CheckTextRequest* req,
                         v1::CheckTextResponse* resp) override;
  grpc::Status Ask(grpc::ServerContext* ctx, const v1::AskConsultationRequest* req,
                   v1::Consultation* resp) override;
  grpc::Status Claim(grpc::ServerContext* ctx, const v1::ClaimConsultationRequest* req,
                     v1::Consultation* resp) override;
  grpc::Status Answer(grpc::ServerContext* ctx, const v1::AnswerConsultationRequest* req,
                      v1::Consultation* resp) override;
  grpc::Status AddMessage(grpc::ServerContext* ctx,
                          const v1::AddConsultationMessageRequest* req,
                          v1::Consultation* resp) override;
  grpc::Status Close(grpc::ServerContext* ctx, const v1::CloseConsultationRequest* req,
                     v1::Consultation* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetConsultationRequest* req,
                   v1::Consultation* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListConsultationsRequest* req,
                    v1::ListConsultationsResponse* resp) override;

 private:
  Consultations* c_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::consultation

#endif  // BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_SERVICE_H_
