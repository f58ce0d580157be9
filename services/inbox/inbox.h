// Inbox: the per-agency ordered event feed (domain logic, no gRPC).
//
// Storage, column family "inbox" (keys hold agency ids and numbers only):
//   "e/<agency>/" + 8-byte big-endian cursor -> serialized v1::InboxEvent
//   "a/<agency>"  -> acknowledged cursor (8-byte big-endian)
// Acknowledged events are deleted in the Ack batch, so the latest cursor is
// the last event's, or the acknowledged one if every event was acknowledged;
// it is read once per agency and then kept in memory. (Until 2026-12 it was
// also written to "l/<agency>" by every commit: one key more per Send and Ask.
// Such keys are ignored.)
//
// Ordering: Commit() (common::InboxWriter) takes the per-agency mutex of every
// agency it writes to (in sorted order), assigns the next cursors, writes the
// caller's batch with the events, and only then
// releases the mutexes and wakes waiters. So cursors are dense (1, 2, 3, ...)
// and a reader that sees cursor N also sees every cursor below N. A failed
// write consumes no cursor.
//
// Thread-safe. The Store and Clock must outlive the Inbox.
#ifndef BUDSTIKKE_SERVICES_INBOX_INBOX_H_
#define BUDSTIKKE_SERVICES_INBOX_INBOX_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "budstikke/v1/inbox.pb.h"
#include "services/common/clock.h"
#include "services/common/inbox_writer.h"
#include "storage/store.h"

namespace budstikke::inbox {

inline constexpr char kColumnFamily[] = "inbox";

class Inbox final : public common::InboxWriter {
 public:
  static absl::StatusOr<std::unique_ptr<Inbox>> Create(storage::Store* store,
                                                       const common::Clock* clock);
  ~Inbox() override;

  absl::Status Commit(storage::WriteBatch batch,
                      const std::vector<common::InboxDelivery>& events) override;

  // Events of `agency` with cursor > max(after_cursor, acked), in cursor order,
  // at most `max_events` (1..10000).
  absl::StatusOr<std::vector<v1::InboxEvent>> Read(absl::string_view agency, uint64_t after_cursor,
                                                   int max_events) const;

  // Acknowledges every event up to `up_to_cursor`; returns the acked position.
  // A cursor at or below the current position is a no-op. INVALID_ARGUMENT if
  // beyond the latest event.
  absl::StatusOr<uint64_t> Ack(absl::string_view agency, uint64_t up_to_cursor);

  // The latest assigned cursor and the acked position (0 if none).
  absl::StatusOr<uint64_t> Latest(absl::string_view agency) const;
  absl::StatusOr<uint64_t> Acked(absl::string_view agency) const;

  // Blocks until the agency has an event with cursor > `cursor`, the timeout
  // passes, or Shutdown() is called. Returns true if there is a newer event.
  bool WaitForNewer(absl::string_view agency, uint64_t cursor, absl::Duration timeout) const;

  // Follows the agency's feed for one subscriber: passes `emit` every event
  // after max(from_cursor, acked) in cursor order (read in batches of 500),
  // then each new event once it is committed, waiting in slices of `poll` so
  // that cancellation and Shutdown() are seen promptly. It ends only with:
  //  - INVALID_ARGUMENT "from_cursor N is beyond the latest event (L)" at once;
  //  - CANCELLED (empty message) when `cancelled()` returns true (checked
  //    before each batch) or `emit` returns false (the subscriber went away);
  //  - UNAVAILABLE "server shutting down; resubscribe from the last cursor
  //    seen" after Shutdown();
  //  - the error of reading the store.
  // Blocks the calling thread for the whole subscription; `emit` and
  // `cancelled` run on it.
  absl::Status Follow(absl::string_view agency, uint64_t from_cursor, absl::Duration poll,
                      const std::function<bool(const v1::InboxEvent&)>& emit,
                      const std::function<bool()>& cancelled) const;

  // Marks the inbox as shutting down: waits return false at once from now on
  // and current waiters within their timeout. For server shutdown.
  void Shutdown();
  bool shutting_down() const;

 private:
  struct AgencyState {
    mutable absl::Mutex mu;
    uint64_t latest = 0;  // guarded by mu
    uint64_t acked = 0;   // guarded by mu
  };

  Inbox(storage::Store* store, const common::Clock* clock) : store_(store), clock_(clock) {}
  // Loads the agency's counters on first use. Never returns null.
  absl::StatusOr<AgencyState*> State(absl::string_view agency) const;

  storage::Store* store_;
  const common::Clock* clock_;
  mutable absl::Mutex map_mu_;
  mutable std::map<std::string, std::unique_ptr<AgencyState>, std::less<>> states_;
  mutable absl::Mutex shutdown_mu_;
  bool shutdown_ = false;  // guarded by shutdown_mu_
};

}  // namespace budstikke::inbox

#endif  // BUDSTIKKE_SERVICES_INBOX_INBOX_H_
