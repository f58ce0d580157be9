// Inbox: the per-agency ordered event feed (domain logic, no gRPC).
//
// Storage, column family "inbox" (keys hold agency ids, consumer names and
// numbers only):
//   "e/<agency>/" + 8-byte big-endian cursor -> serialized v1::InboxEvent
//   "p/<agency>/<consumer>" -> the consumer's acknowledged cursor (8 bytes)
//   "r/<agency>"  -> the highest cursor removed by retention (8 bytes)
//   "s"           -> the cursor floor of the last start (8 bytes)
// (Until 2026-12 "a/<agency>" held one acknowledged cursor for the whole
// agency and an Ack deleted the events; such a key still counts as removed.)
//
// Cursors never go back, also after a restore of the data dir or a power loss
// that took the last writes: the first start of a data dir numbers from 1;
// every later start sets a floor, max(start time in ms x 1000, previous floor
// + 1), and the next cursor of every agency is above max(its latest cursor,
// the floor). Events committed before the start (whatever was rolled back)
// had cursors below that start's time x 1000 as long as no agency committed
// more than 1000 events per millisecond and the clock did not go back across
// the restore. Within one start cursors are dense (+1 per event).
//
// Consumers: every reader names a consumer (the CLI and SDKs default to the
// user id); each consumer of an agency has its own acknowledged position. An
// Ack moves only that position and deletes nothing. Events are removed by
// retention only (Options::retention after their commit, RunRetentionOnce),
// whatever the positions; a position at or below everything removed is removed
// with them (it means the same as no position: from the oldest kept event).
//
// Ordering: Commit() (common::InboxWriter) takes the per-agency mutex of every
// agency it writes to (in sorted order), assigns the next cursors and writes
// the caller's batch with the events without an fsync
// (storage::Store::Sync::kDeferred), so cursors reach the store in order.
// Then it releases the mutexes and, in a store with sync_writes, waits for
// the WAL's fsync (Store::SyncWal, which concurrent commits share: this is
// the group commit of writes that notify one agency), and only then
// publishes the cursors to readers (`latest`) and wakes waiters. So a reader
// that sees cursor N also sees every cursor below N (with sync_writes: every
// one of them durable), and every commit is readable when it returns. A failed write consumes no
// cursor. If the fsync fails, Commit() fails and its cursors stay unpublished
// until a later commit succeeds (the events are written; whether they
// survive a power loss is unknown, as for any write whose fsync failed).
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
#include "services/common/periodic_job.h"
#include "storage/store.h"

namespace budstikke::inbox {

inline constexpr char kColumnFamily[] = "inbox";

class Inbox final : public common::InboxWriter {
 public:
  struct Options {
    // Events older than this are removed by RunRetentionOnce.
    absl::Duration retention = absl::Hours(24 * 90);
    // Consumer positions per agency; an Ack that would add one more is
    // RESOURCE_EXHAUSTED (rule inbox.consumers).
    size_t max_consumers = 1000;
  };

  // Writes this start's cursor floor (see above) durably before returning.
  static absl::StatusOr<std::unique_ptr<Inbox>> Create(storage::Store* store,
                                                       const common::Clock* clock,
                                                       const Options& options);
  static absl::StatusOr<std::unique_ptr<Inbox>> Create(storage::Store* store,
                                                       const common::Clock* clock) {
    return Create(store, clock, Options());
  }
  ~Inbox() override;

  // OK, or INVALID_ARGUMENT: a consumer name is 1-64 characters of a-z, 0-9,
  // '.', '_' and '-' (the characters of a user id, its default).
  static absl::Status ValidateConsumer(absl::string_view consumer);

  absl::Status Commit(storage::WriteBatch batch,
                      const std::vector<common::InboxDelivery>& events) override;

  // Events of `agency` with cursor > max(after_cursor, the consumer's
  // position), in cursor order, at most `max_events` (1..10000).
  absl::StatusOr<std::vector<v1::InboxEvent>> Read(absl::string_view agency,
                                                   absl::string_view consumer,
                                                   uint64_t after_cursor, int max_events) const;

  // Moves the consumer's position to `up_to_cursor` and returns it; deletes
  // nothing. A cursor at or below the position is a no-op. INVALID_ARGUMENT
  // if beyond Latest(); RESOURCE_EXHAUSTED (rule inbox.consumers) if the
  // agency already has Options::max_consumers other positions.
  absl::StatusOr<uint64_t> Ack(absl::string_view agency, absl::string_view consumer,
                               uint64_t up_to_cursor);

  // The latest assigned cursor, or this start's floor if higher: every event
  // committed from now on has a higher cursor. 0 in a new data dir.
  absl::StatusOr<uint64_t> Latest(absl::string_view agency) const;
  // The consumer's acknowledged position (0 if none).
  absl::StatusOr<uint64_t> Position(absl::string_view agency, absl::string_view consumer) const;

  // Removes every event committed more than Options::retention ago, with the
  // positions it leaves meaningless; returns how many events it removed.
  absl::StatusOr<int> RunRetentionOnce();
  // Runs RunRetentionOnce every `interval` on a background thread until
  // StopRetentionJob() or destruction.
  void StartRetentionJob(absl::Duration interval);
  void StopRetentionJob();

  // Blocks until the agency has an event with cursor > `cursor`, the timeout
  // passes, or Shutdown() is called. Returns true if there is a newer event.
  bool WaitForNewer(absl::string_view agency, uint64_t cursor, absl::Duration timeout) const;

  // Follows the agency's feed for one subscriber: passes `emit` every event
  // after max(from_cursor, the consumer's position) in cursor order (read in
  // batches of 500),
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
  absl::Status Follow(absl::string_view agency, absl::string_view consumer, uint64_t from_cursor,
                      absl::Duration poll, const std::function<bool(const v1::InboxEvent&)>& emit,
                      const std::function<bool()>& cancelled) const;

  // Marks the inbox as shutting down: waits return false at once from now on
  // and current waiters within their timeout. For server shutdown.
  void Shutdown();
  bool shutting_down() const;

 private:
  struct AgencyState {
    mutable absl::Mutex mu;
    uint64_t written = 0;  // guarded by mu; the highest cursor written (>= latest)
    uint64_t latest = 0;   // guarded by mu; at least floor_; the highest published
    uint64_t removed = 0;  // guarded by mu; highest cursor removed
    std::map<std::string, uint64_t, std::less<>> positions;  // guarded by mu
  };
  // Events of one read and how far it looked: every event with a cursor up
  // to `through` after the start was returned.
  struct Page {
    std::vector<v1::InboxEvent> events;
    uint64_t through = 0;
  };

  Inbox(storage::Store* store, const common::Clock* clock, const Options& options, uint64_t floor)
      : store_(store), clock_(clock), options_(options), floor_(floor) {}
  // Loads the agency's counters and positions on first use. Never null.
  absl::StatusOr<AgencyState*> State(absl::string_view agency) const;
  absl::StatusOr<Page> ReadPage(absl::string_view agency, absl::string_view consumer,
                                uint64_t after_cursor, int max_events) const;
  // Removes the cursors of `agency` (ascending, committed before the cutoff).
  absl::Status RemoveEvents(absl::string_view agency, const std::vector<uint64_t>& cursors);

  storage::Store* store_;
  const common::Clock* clock_;
  const Options options_;
  const uint64_t floor_;
  mutable absl::Mutex map_mu_;
  mutable std::map<std::string, std::unique_ptr<AgencyState>, std::less<>> states_;
  mutable absl::Mutex shutdown_mu_;
  bool shutdown_ = false;     // guarded by shutdown_mu_
  absl::Mutex retention_mu_;  // one retention run at a time
  common::PeriodicJob retention_job_;
};

}  // namespace budstikke::inbox

#endif  // BUDSTIKKE_SERVICES_INBOX_INBOX_H_
