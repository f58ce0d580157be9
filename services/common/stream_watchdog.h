// StreamWatchdog: a streaming call may not wait on one read or write for ever.
//
// A client that opens an upload and sends nothing, or a subscriber that stops
// reading, would otherwise hold a gRPC thread and a stream slot for as long as
// it keeps the connection. Each blocking step of a stream is watched; when it
// is still going after `limit`, the watchdog cancels the call (the client sees
// CANCELLED, the handler's read or write returns false and it releases what it
// holds).
//
//   common::StreamWatchdog::Step step(common::StreamWatchdog::Default(),
//                                     common::StreamStepLimit(),
//                                     [ctx] { ctx->TryCancel(); });
//   bool more = reader->Read(&msg);
//   if (step.expired()) return ...;
//
// `cancel` runs on the watchdog's thread while the Step exists, never after
// its destructor returns. Thread-safe.
#ifndef BUDSTIKKE_SERVICES_COMMON_STREAM_WATCHDOG_H_
#define BUDSTIKKE_SERVICES_COMMON_STREAM_WATCHDOG_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/clock.h"

namespace budstikke::common {

// How long one read or write of a stream may wait (an upload's next chunk, a
// subscriber taking an event): 30 s unless the server's --stream-idle-seconds
// set another.
absl::Duration StreamStepLimit();
void SetStreamStepLimit(absl::Duration limit);

class StreamWatchdog {
 public:
  // Checks every `tick` on a thread of its own. `clock` must outlive it.
  StreamWatchdog(const Clock* clock, absl::Duration tick);
  // No thread: the caller runs CancelExpired() (tests).
  explicit StreamWatchdog(const Clock* clock);
  ~StreamWatchdog();
  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // The process's watchdog: the system clock, checked every second.
  static StreamWatchdog& Default();

  // Cancels every step whose limit has passed (once each).
  void CancelExpired();
  size_t watched() const;

  class Step {
   public:
    Step(StreamWatchdog& watchdog, absl::Duration limit, std::function<void()> cancel);
    ~Step();
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;
    // The limit passed and the call was cancelled.
    bool expired() const { return expired_.load(); }

   private:
    StreamWatchdog& watchdog_;
    uint64_t id_;
    std::atomic<bool> expired_{false};
  };

 private:
  struct Entry {
    absl::Time deadline;
    std::function<void()> cancel;
    std::atomic<bool>* expired;
  };
  void Loop(absl::Duration tick);

  const Clock* clock_;
  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, Entry> steps_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_STREAM_WATCHDOG_H_
