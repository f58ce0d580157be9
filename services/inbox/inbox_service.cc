#include "services/inbox/inbox_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/common/grpc_status.h"

namespace budstikke::inbox {

using common::ToGrpcStatus;

grpc::Status InboxServiceImpl::Subscribe(grpc::ServerContext* ctx, const v1::SubscribeRequest* req,
                                         grpc::ServerWriter<v1::InboxEvent>* writer) {
  auto caller = auth_->Authenticate(ctx, "budstikke.v1.InboxService/Subscribe");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const std::string& agency = caller->agency();
  auto latest = inbox_->Latest(agency);
  if (!latest.ok()) return ToGrpcStatus(latest.status());
  if (req->from_cursor() > *latest) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "from_cursor ", req->from_cursor(), " is beyond the latest event (", *latest, ")")));
  }
  uint64_t cursor = req->from_cursor();
  while (true) {
    if (ctx->IsCancelled()) return grpc::Status::CANCELLED;
    if (inbox_->shutting_down()) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "server shutting down; resubscribe from the last cursor seen");
    }
    auto events = inbox_->Read(agency, cursor, 500);
    if (!events.ok()) return ToGrpcStatus(events.status());
    for (const v1::InboxEvent& e : *events) {
      if (!writer->Write(e)) return grpc::Status::CANCELLED;  // client went away
      cursor = e.cursor();
    }
    if (events->empty()) {
      // Read starts after the acknowledged position: wait from there too, or a
      // subscriber behind it (e.g. from_cursor 0, everything acked) would spin.
      auto acked = inbox_->Acked(agency);
      inbox_->WaitForNewer(agency, std::max(cursor, acked.ok() ? *acked : cursor), poll_);
    }
  }
}

grpc::Status InboxServiceImpl::Ack(grpc::ServerContext* ctx, const v1::AckRequest* req,
                                   v1::AckResponse* resp) {
  auto caller = auth_->Authenticate(ctx, "budstikke.v1.InboxService/Ack");
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto acked = inbox_->Ack(caller->agency(), req->up_to_cursor());
  if (!acked.ok()) return ToGrpcStatus(acked.status());
  resp->set_acked_cursor(*acked);
  return grpc::Status::OK;
}

}  // namespace budstikke::inbox
