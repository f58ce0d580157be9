// AuditIngestService: receives audit events from the outboxes of other
// processes (microservices mode) and from the gateway and admin, and puts them
// into this process's outbox, which the AuditLog drains into the Merkle log.
// Deduplicated by (source, sequence) with an IngestLedger: the events and the
// source's new mark are one write, so a redelivery has no second effect.
#ifndef BUDSTIKKE_SERVICES_AUDIT_INGEST_SERVICE_H_
#define BUDSTIKKE_SERVICES_AUDIT_INGEST_SERVICE_H_

#include "budstikke/internal/v1/internal.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/common/outbox/ingest_ledger.h"
#include "services/common/store_audit_outbox.h"
#include "storage/store.h"

namespace budstikke::audit {

class AuditIngestService final : public internal::v1::AuditIngest::Service {
 public:
  // Everything must outlive the service.
  AuditIngestService(storage::Store* store, common::StoreAuditOutbox* outbox,
                     common::IngestLedger* ledger, const common::Authenticator* auth)
      : store_(store), outbox_(outbox), ledger_(ledger), auth_(auth) {}

  grpc::Status Append(grpc::ServerContext* ctx, const internal::v1::AppendRequest* req,
                      internal::v1::AppendResponse* resp) override;

 private:
  storage::Store* store_;
  common::StoreAuditOutbox* outbox_;
  common::IngestLedger* ledger_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::audit

#endif  // BUDSTIKKE_SERVICES_AUDIT_INGEST_SERVICE_H_
