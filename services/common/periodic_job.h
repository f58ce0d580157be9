// PeriodicJob: runs a function every `interval` on its own thread until
// Stop() or destruction (retention, escalation and purge jobs).
//
//   PeriodicJob job;
//   job.Start(absl::Minutes(10), [this] { (void)RunRetentionOnce(); });
//
// The first run is one interval after Start. Stop() waits for a run in
// progress. Errors are the function's to handle (the jobs retry next round).
// Start and Stop are for one owner thread.
#ifndef BUDSTIKKE_SERVICES_COMMON_PERIODIC_JOB_H_
#define BUDSTIKKE_SERVICES_COMMON_PERIODIC_JOB_H_

#include <functional>
#include <memory>
#include <thread>
#include <utility>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace budstikke::common {

class PeriodicJob {
 public:
  PeriodicJob() = default;
  PeriodicJob(const PeriodicJob&) = delete;
  PeriodicJob& operator=(const PeriodicJob&) = delete;
  ~PeriodicJob() { Stop(); }

  // A second Start while running is ignored.
  void Start(absl::Duration interval, std::function<void()> fn) {
    if (thread_.joinable()) return;
    stop_ = std::make_unique<absl::Notification>();
    thread_ = std::thread([stop = stop_.get(), interval, fn = std::move(fn)] {
      while (!stop->WaitForNotificationWithTimeout(interval)) fn();
    });
  }

  void Stop() {
    if (!thread_.joinable()) return;
    stop_->Notify();
    thread_.join();
  }

 private:
  std::unique_ptr<absl::Notification> stop_;
  std::thread thread_;
};

}  // namespace budstikke::common

#endif  // BUDSTIKKE_SERVICES_COMMON_PERIODIC_JOB_H_
