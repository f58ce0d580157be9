// RefusalAggregator: one audit event for a burst of identical refusals.
//
// The first refusal of an (actor, action, rule, resource) in a window
// (60 s in the server) is recorded as usual and opens the window; its
// repeats within the window are only counted here, and when the window ends
// they become ONE event: the first repeat's event with `count` (how many),
// `first_time` and `last_time` (when the first and the last repeat came).
// Allowed events are never aggregated. A repeat's request id is not kept.
//
//   if (aggregator.Absorb(caller, event)) return OK;  // counted, not recorded now
//   ...
//   for (auto& s : aggregator.TakeEnded(/*all=*/false)) record(s.caller, s.event);
//
// At most `max_windows` windows are open; when that many are, a refusal of a
// new key is recorded on its own (no window), so memory stays bounded whatever
// a caller varies. Counts not yet taken are lost if the process dies: at most
// one window of repeats of each key, whose first refusal is in the log.
//
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_REFUSAL_AGGREGATOR_H_
#define BUDSTIKKE_SERVICES_COMMON_REFUSAL_AGGREGATOR_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "budstikke/v1/audit.pb.h"
#include "services/common/clock.h"
#include "services/common/identity.h"

namespace budstikke::common {

inline constexpr absl::Duration kRefusalWindow = absl::Seconds(60);

class RefusalAggregator {
 public:
  struct Summary {
    Caller caller;
    v1::AuditEvent event;  // count, first_time and last_time set
  };

  // `clock` must outlive the aggregator.
  RefusalAggregator(const Clock* clock, absl::Duration window = kRefusalWindow,
                    size_t max_windows = 10000)
      : clock_(clock), window_(window), max_windows_(max_windows) {}

  // True when `event` (by `caller`) is DENIED and repeats a refusal whose
  // window is open: it is counted and must not be recorded now. False when it
  // must be recorded (then a DENIED event opens a window, if there is room).
  bool Absorb(const Caller& caller, const v1::AuditEvent& event);

  // Removes the windows that ended by now (every window when `all`) and
  // returns one summary for each that counted repeats, oldest first.
  std::vector<Summary> TakeEnded(bool all);

  size_t open_windows() const;

 private:
  struct Window {
    absl::Time start;
    Summary repeats;  // the first repeat's caller and event; count 0 until one
    absl::Time last;
  };

  const Clock* clock_;
  const absl::Duration window_;
  const size_t max_windows_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Window> windows_ ABSL_GUARDED_BY(mu_);
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_REFUSAL_AGGREGATOR_H_
