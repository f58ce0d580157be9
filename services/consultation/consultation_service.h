// gRPC adapter for ConsultationService: every method is common::Unary
// (common/grpc_adapter.h): authenticate (authorization table), call
// Consultations (consultation.h) on the domain executor (CheckText inline),
// convert the status.
#ifndef BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_SERVICE_H_
#define BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_SERVICE_H_

#include "budstikke/v1/consultation.grpc.pb.h"
#include "services/common/domain_executor.h"
#include "services/common/grpc_auth.h"
#include "services/consultation/consultation.h"

namespace budstikke::consultation {

class ConsultationServiceImpl final : public v1::ConsultationService::Service {
 public:
  // All must outlive the service. A null executor runs domain calls inline.
  ConsultationServiceImpl(Consultations* consultations, const common::Authenticator* auth,
                          common::DomainExecutor* executor = nullptr)
      : c_(consultations), auth_(auth), executor_(executor) {}

  grpc::Status CheckText(grpc::ServerContext* ctx, const v1::CheckTextRequest* req,
                         v1::CheckTextResponse* resp) override;
  grpc::Status Ask(grpc::ServerContext* ctx, const v1::AskConsultationRequest* req,
                   v1::Consultation* resp) override;
  grpc::Status Claim(grpc::ServerContext* ctx, const v1::ClaimConsultationRequest* req,
                     v1::Consultation* resp) override;
  grpc::Status Answer(grpc::ServerContext* ctx, const v1::AnswerConsultationRequest* req,
                      v1::Consultation* resp) override;
  grpc::Status AddMessage(grpc::ServerContext* ctx, const v1::AddConsultationMessageRequest* req,
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
  common::DomainExecutor* executor_;
};

}  // namespace budstikke::consultation

#endif  // BUDSTIKKE_SERVICES_CONSULTATION_CONSULTATION_SERVICE_H_
