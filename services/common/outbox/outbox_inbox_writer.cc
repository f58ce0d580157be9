#include "services/common/outbox/outbox_inbox_writer.h"

#include "budstikke/internal/v1/internal.pb.h"
#include "services/common/store_audit_outbox.h"
#include "storage/big_endian.h"
#include "storage/status_macros.h"

namespace budstikke::common {

absl::StatusOr<std::unique_ptr<OutboxInboxWriter>> OutboxInboxWriter::Create(
    storage::Store* store) {
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t next, NextOutboxSequence(store, kInboxOutboxColumnFamily));
  return std::unique_ptr<OutboxInboxWriter>(new OutboxInboxWriter(store, next));
}

absl::Status OutboxInboxWriter::Commit(storage::WriteBatch batch,
                                       const std::vector<InboxDelivery>& events) {
  for (const InboxDelivery& e : events) {
    if (e.agency.empty()) return absl::InvalidArgumentError("inbox: agency id is empty");
    if (e.type == v1::INBOX_EVENT_TYPE_UNSPECIFIED) {
      return absl::InvalidArgumentError("inbox: event type unspecified");
    }
  }
  for (const InboxDelivery& e : events) {
    internal::v1::InboxEntry entry;
    entry.set_agency(e.agency);
    entry.set_type(e.type);
    *entry.mutable_resource() = e.resource;
    batch.Put(kInboxOutboxColumnFamily, storage::BigEndian64(sequence_.Reserve(&batch)),
              entry.SerializeAsString());
  }
  return store_->Write(std::move(batch));
}

}  // namespace budstikke::common
