// InboxIngestService: receives notifications from the inbox outboxes of other
// processes (microservices mode) and commits them to the agencies' inboxes,
// which assign the cursors. Deduplicated by (source, sequence) with an
// IngestLedger: the events and the source's new mark are one write.
#ifndef BUDSTIKKE_SERVICES_INBOX_INGEST_SERVICE_H_
#define BUDSTIKKE_SERVICES_INBOX_INGEST_SERVICE_H_

#include "budstikke/internal/v1/internal.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/common/outbox/ingest_ledger.h"
#include "services/inbox/inbox.h"

namespace budstikke::inbox {

class InboxIngestService final : public internal::v1::InboxIngest::Service {
 public:
  // Everything must outlive the service.
  InboxIngestService(Inbox* inbox, common::IngestLedger* ledger, const common::Authenticator* auth)
      : inbox_(inbox), ledger_(ledger), auth_(auth) {}

  grpc::Status Deliver(grpc::ServerContext* ctx, const internal::v1::DeliverRequest* req,
                       internal::v1::DeliverResponse* resp) override;

 private:
  Inbox* inbox_;
  common::IngestLedger* ledger_;
  const common::Authenticator* auth_;
};

}  // namespace budstikke::inbox

#endif  // BUDSTIKKE_SERVICES_INBOX_INGEST_SERVICE_H_
