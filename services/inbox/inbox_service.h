// gRPC adapter for InboxService: authenticate, then serve the caller agency's
// inbox from Inbox (inbox.h). Ack goes through common::Unary (inline).
//
// Both name a consumer (`consumer`, default: the caller's user id) whose
// acknowledged position they use. Subscribe authenticates, then streams
// Inbox::Follow to the client: stored events after `from_cursor` and the
// consumer's position, then new ones, waiting in slices
// of `poll` so that a cancelled call or a server shutdown (Inbox::Shutdown ->
// UNAVAILABLE) ends the stream promptly.
#ifndef BUDSTIKKE_SERVICES_INBOX_INBOX_SERVICE_H_
#define BUDSTIKKE_SERVICES_INBOX_INBOX_SERVICE_H_

#include "absl/time/time.h"
#include "budstikke/v1/inbox.grpc.pb.h"
#include "services/common/grpc_auth.h"
#include "services/common/stream_slots.h"
#include "services/inbox/inbox.h"

namespace budstikke::inbox {

class InboxServiceImpl final : public v1::InboxService::Service {
 public:
  // Both must outlive the service.
  InboxServiceImpl(Inbox* inbox, const common::Authenticator* auth,
                   absl::Duration poll = absl::Milliseconds(200))
      : inbox_(inbox), auth_(auth), poll_(poll) {}

  grpc::Status Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                         grpc::ServerWriter<v1::InboxEvent>* writer) override;
  grpc::Status Ack(grpc::ServerContext* ctx, const v1::AckRequest* req,
                   v1::AckResponse* resp) override;

 private:
  Inbox* inbox_;
  const common::Authenticator* auth_;
  absl::Duration poll_;
  // Each Subscribe holds a server thread while it follows the inbox.
  common::StreamSlots subscriptions_{
      {.total = 512, .per_agency = 64, .per_caller = 8}, "inbox.subscriptions", "inbox streams"};
};

}  // namespace budstikke::inbox

#endif  // BUDSTIKKE_SERVICES_INBOX_INBOX_SERVICE_H_
