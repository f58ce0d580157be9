// OutboxInboxWriter: the InboxWriter of a process that does not host the inbox
// service (microservices mode). Commit() adds each notification to the
// process's inbox outbox (column family "inbox_outbox") in the caller's batch
// and writes it: the change, its audit events and its notifications become
// durable together. An OutboxDrainer delivers the entries to the inbox
// service (InboxIngest/Deliver), which assigns the cursors.
//
// Keys: 8-byte big-endian sequence (OutboxSequence); values: serialized
// budstikke.internal.v1.InboxEntry (agency, type, resource; sequence unset).
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_OUTBOX_OUTBOX_INBOX_WRITER_H_
#define BUDSTIKKE_SERVICES_COMMON_OUTBOX_OUTBOX_INBOX_WRITER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "services/common/inbox_writer.h"
#include "services/common/outbox_sequence.h"
#include "storage/store.h"

namespace budstikke::common {

inline constexpr char kInboxOutboxColumnFamily[] = "inbox_outbox";

class OutboxInboxWriter final : public InboxWriter {
 public:
  // `store` (with kInboxOutboxColumnFamily) must outlive the writer.
  static absl::StatusOr<std::unique_ptr<OutboxInboxWriter>> Create(storage::Store* store);

  absl::Status Commit(storage::WriteBatch batch, const std::vector<InboxDelivery>& events) override;

  OutboxSequence& sequence() { return sequence_; }

 private:
  OutboxInboxWriter(storage::Store* store, uint64_t next) : store_(store), sequence_(next) {}

  storage::Store* store_;
  OutboxSequence sequence_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_OUTBOX_OUTBOX_INBOX_WRITER_H_
