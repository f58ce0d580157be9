#include "services/audit/ingest_service.h"

#include "absl/strings/str_cat.h"
#include "services/audit/event_codec.h"
#include "services/common/grpc_adapter.h"
#include "services/common/remote/ingest.h"
#include "storage/status_macros.h"

namespace budstikke::audit {

namespace {
constexpr char kAppend[] = "budstikke.internal.v1.AuditIngest/Append";
}  // namespace

grpc::Status AuditIngestService::Append(grpc::ServerContext* ctx,
                                        const internal::v1::AppendRequest* req,
                                        internal::v1::AppendResponse* resp) {
  return common::Unary(
      ctx, *auth_, kAppend, resp, common::kInline,
      [&](const common::Caller&) -> absl::StatusOr<internal::v1::AppendResponse> {
        // Only what a leaf can hold and read back: a bad leaf stays for ever.
        for (int i = 0; i < req->entries_size(); ++i) {
          absl::Status encodable = CheckEncodable(req->entries(i).event());
          if (!encodable.ok()) {
            return absl::InvalidArgumentError(absl::StrCat("entry ", i, ": ", encodable.message()));
          }
        }
        BUDSTIKKE_ASSIGN_OR_RETURN(
            uint64_t mark,
            common::ApplyDelivery(*ledger_, req->source(), req->entries(),
                                  [&](uint64_t first_new, storage::WriteBatch batch) {
                                    for (const internal::v1::AuditEntry& e : req->entries()) {
                                      if (e.sequence() >= first_new) {
                                        outbox_->AddFilled(&batch, e.event());
                                      }
                                    }
                                    return store_->Write(std::move(batch));
                                  }));
        internal::v1::AppendResponse out;
        out.set_high_water_mark(mark);
        return out;
      });
}

}  // namespace budstikke::audit
