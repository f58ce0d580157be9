// InboxWriter: how a service commits a change together with the inbox events
// it causes (transactional outbox for agency inboxes, see inbox.proto).
//
//   storage::WriteBatch batch;
//   batch.Put(kMyColumnFamily, key, value);                // the change
//   BUDSTIKKE_RETURN_IF_ERROR(audit->Add(&batch, caller, event));   // its audit
//   BUDSTIKKE_RETURN_IF_ERROR(inbox->Commit(std::move(batch),
//       {{recipient_agency, v1::INBOX_EVENT_TYPE_REFERRAL_RECEIVED,
//         common::Ref(v1::RESOURCE_KIND_REFERRAL, id)}}));
//
// Commit() assigns each event the next cursor of its agency's inbox, adds the
// events to `batch` and writes the batch with Store::Write: the change, its
// audit events and its inbox events become durable together or not at all.
// Cursors per agency increase strictly, without gaps while the process runs
// and never reused across restarts and restores (services/inbox/inbox.h), with
// no out-of-order commits (the implementation holds the agencies' locks across
// the write). Events
// never carry content or national ids: only the type and a ResourceRef.
// Subscribers of the agencies are woken after the write.
//
// Use Commit() instead of Store::Write for any batch that produces events;
// with no events it is a plain Store::Write.
//
// Errors: INVALID_ARGUMENT for an empty agency id or an unspecified type; the
// store's error (typically UNAVAILABLE) if the write fails, in which case no
// cursor is consumed.
//
// Thread-safe. The implementation lives in services/inbox/inbox.h.
#ifndef BUDSTIKKE_SERVICES_COMMON_INBOX_WRITER_H_
#define BUDSTIKKE_SERVICES_COMMON_INBOX_WRITER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "budstikke/v1/inbox.pb.h"
#include "budstikke/v1/types.pb.h"
#include "storage/store.h"

namespace budstikke::common {

// One event for one agency's inbox.
struct InboxDelivery {
  std::string agency;
  v1::InboxEventType type = v1::INBOX_EVENT_TYPE_UNSPECIFIED;
  v1::ResourceRef resource;
  // URGENT for urgent referrals and their escalations.
  v1::Priority priority = v1::PRIORITY_NORMAL;
};

inline v1::ResourceRef Ref(v1::ResourceKind kind, const std::string& id) {
  v1::ResourceRef ref;
  ref.set_kind(kind);
  ref.set_id(id);
  return ref;
}

class InboxWriter {
 public:
  virtual ~InboxWriter() = default;
  // Adds `events` to `batch` with fresh cursors and writes it atomically.
  virtual absl::Status Commit(storage::WriteBatch batch,
                              const std::vector<InboxDelivery>& events) = 0;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_INBOX_WRITER_H_
