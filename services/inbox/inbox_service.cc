#include "services/inbox/inbox_service.h"

#include "services/common/grpc_adapter.h"

namespace budstikke::inbox {
namespace {

using common::Caller;

constexpr char kSubscribe[] = "budstikke.v1.InboxService/Subscribe";
constexpr char kAck[] = "budstikke.v1.InboxService/Ack";

// The consumer a request names, or the caller's user id.
std::string ConsumerOf(const Caller& caller, const std::string& requested) {
  return requested.empty() ? caller.identity.user : requested;
}

}  // namespace

grpc::Status InboxServiceImpl::Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                                         grpc::ServerWriter<v1::InboxEvent>* writer) {
  absl::StatusOr<Caller> caller = auth_->Authenticate(ctx, kSubscribe);
  if (!caller.ok()) return common::ToGrpcStatus(caller.status());
  absl::StatusOr<common::StreamSlots::Slot> slot = subscriptions_.Acquire(*caller);
  if (!slot.ok()) return common::ToGrpcStatus(slot.status());
  return common::ToGrpcStatus(inbox_->Follow(
      caller->agency(), ConsumerOf(*caller, req->consumer()), req->from_cursor(), poll_,
      [ctx, writer](const v1::InboxEvent& e) {
        // A subscriber that stops reading is cancelled after StreamStepLimit().
        return common::WatchedStep(ctx, [&] { return writer->Write(e); });
      },
      [ctx] { return ctx->IsCancelled(); }));
}

grpc::Status InboxServiceImpl::Ack(grpc::ServerContext* ctx, const v1::AckRequest* req,
                                   v1::AckResponse* resp) {
  return common::Unary(ctx, *auth_, kAck, resp, common::kInline,
                       [&](const Caller& c) -> absl::StatusOr<v1::AckResponse> {
                         absl::StatusOr<uint64_t> acked = inbox_->Ack(
                             c.agency(), ConsumerOf(c, req->consumer()), req->up_to_cursor());
                         if (!acked.ok()) return acked.status();
                         v1::AckResponse r;
                         r.set_acked_cursor(*acked);
                         return r;
                       });
}

}  // namespace budstikke::inbox
