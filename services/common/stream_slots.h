// StreamSlots: caps on calls in progress at once (long streams, uploads),
// per caller, per agency and in all, so one caller or one agency cannot take
// every thread or buffer of the server.
//
//   StreamSlots subscriptions({.total = 512, .per_agency = 64, .per_caller = 8},
//                             "inbox.subscriptions", "inbox streams");
//   absl::StatusOr<StreamSlots::Slot> slot = subscriptions.Acquire(caller);
//   if (!slot.ok()) return slot.status();   // held until `slot` is destroyed
//
// Over a cap: RESOURCE_EXHAUSTED naming the cap ("at most 8 inbox streams at
// once per caller; retry in 1 s"), with the rule and ErrorDetails.retry_delay.
// Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_STREAM_SLOTS_H_
#define BUDSTIKKE_SERVICES_COMMON_STREAM_SLOTS_H_

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/errors.h"
#include "services/common/identity.h"

namespace budstikke::common {

class StreamSlots {
 public:
  struct Limits {
    int total = 0;
    int per_agency = 0;
    int per_caller = 0;
  };

  // One slot; released when destroyed. Movable.
  class Slot {
   public:
    Slot(Slot&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)),
          agency_(std::move(other.agency_)),
          caller_(std::move(other.caller_)) {}
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    ~Slot();

   private:
    friend class StreamSlots;
    Slot(StreamSlots* owner, std::string agency, std::string caller)
        : owner_(owner), agency_(std::move(agency)), caller_(std::move(caller)) {}
    StreamSlots* owner_;
    std::string agency_, caller_;
  };

  // `rule` and `what` (plural, e.g. "uploads") name the refusal.
  StreamSlots(Limits limits, std::string rule, std::string what)
      : limits_(limits), rule_(std::move(rule)), what_(std::move(what)) {}

  absl::StatusOr<Slot> Acquire(const Caller& caller);
  int in_use() const {
    absl::MutexLock lock(&mu_);
    return total_;
  }

 private:
  void Release(const std::string& agency, const std::string& caller);

  const Limits limits_;
  const std::string rule_, what_;
  mutable absl::Mutex mu_;
  int total_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, int> per_agency_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> per_caller_ ABSL_GUARDED_BY(mu_);
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_STREAM_SLOTS_H_
