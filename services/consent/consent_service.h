// ConsentServiceImpl: the thin gRPC adapter of ConsentRegistry. Every method
// is common::Unary (common/grpc_adapter.h), inline: authenticate and
// authorize, call the domain, convert the status once.
#ifndef BUDSTIKKE_SERVICES_CONSENT_CONSENT_SERVICE_H_
#define BUDSTIKKE_SERVICES_CONSENT_CONSENT_SERVICE_H_

#include "budstikke/v1/consent.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/consent/consent.h"

namespace budstikke::consent {

class ConsentServiceImpl final : public v1::ConsentService::Service {
 public:
  // Both must outlive the service.
  ConsentServiceImpl(ConsentRegistry* registry, const common::Authenticator* auth)
      : registry_(registry), auth_(auth) {}

  grpc::Status Record(grpc::ServerContext* ctx, const v1::RecordConsentRequest* req,
                      v1::Consent* resp) override;
  grpc::Status Revoke(grpc::ServerContext* ctx, const v1::RevokeConsentRequest* req,
                      v1::Consent* resp) override;
  grpc::Status Get(grpc::ServerContext* ctx, const v1::GetConsentRequest* req,
                   v1::Consent* resp) override;
  grpc::Status List(grpc::ServerContext* ctx, const v1::ListConsentsRequest* req,
                    v1::ListConsentsResponse* resp) override;

 private:
  ConsentRegistry* registry_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::consent

#endif  // BUDSTIKKE_SERVICES_CONSENT_CONSENT_SERVICE_H_
