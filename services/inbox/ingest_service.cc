#include "services/inbox/ingest_service.h"

#include <vector>

#include "services/common/grpc_adapter.h"
#include "services/common/remote/ingest.h"
#include "storage/status_macros.h"

namespace budstikke::inbox {

namespace {
constexpr char kDeliver[] = "budstikke.internal.v1.InboxIngest/Deliver";
}  // namespace

grpc::Status InboxIngestService::Deliver(grpc::ServerContext* ctx,
                                         const internal::v1::DeliverRequest* req,
                                         internal::v1::DeliverResponse* resp) {
  return common::Unary(
      ctx, *auth_, kDeliver, resp, common::kInline,
      [&](const common::Caller&) -> absl::StatusOr<internal::v1::DeliverResponse> {
        BUDSTIKKE_ASSIGN_OR_RETURN(
            uint64_t mark,
            common::ApplyDelivery(*ledger_, req->source(), req->entries(),
                                  [&](uint64_t first_new, storage::WriteBatch batch) {
                                    std::vector<common::InboxDelivery> events;
                                    for (const internal::v1::InboxEntry& e : req->entries()) {
                                      if (e.sequence() < first_new) continue;
                                      events.push_back({e.agency(), e.type(), e.resource()});
                                    }
                                    return inbox_->Commit(std::move(batch), events);
                                  }));
        internal::v1::DeliverResponse out;
        out.set_high_water_mark(mark);
        return out;
      });
}

}  // namespace budstikke::inbox
