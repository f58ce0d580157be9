// Rewrapper: after a rotation, moves the wrapped data keys of one agency that
// are still under an older version of its key to the current version, in the
// background, in the store of one process with data (storage::Envelope::Rewrap:
// only the agency's entry and the header tag of each envelope change, not the
// content). Values are plain envelopes or framed ones (common::SealedRecords).
//
// Resumable: a job per agency is kept in the admin column family, under
// "rewrap/<agency>" (its v1::RewrapProgress: state, target version, counts,
// times) and "rewrap-at/<agency>" (the last key done: column family NUL key).
// Each batch of up to `batch_size` values is written in one atomic write with
// the job's new progress (Store::ReplaceIfUnchanged), so a restart continues
// after the last batch written, and a value rewritten by a service between
// the rewrapper's read and its write keeps the service's content (the
// replacement is dropped). A pass over every column family ends with a count
// of what is left: none, DONE; else another pass (the values a service wrote
// back under an old version meanwhile), and after kMaxPasses passes FAILED
// with the count, retried after `retry_after`. Values whose old version was
// shredded cannot be moved and are not counted; values that do not
// authenticate are left as they are (they keep the old version in use, so a
// shred without force stays refused).
//
// Thread-safe. With `background`, a thread runs the jobs (and resumes the
// persisted ones), pausing `pause` between batches so that foreground writes
// keep their latency; without it, RunBatch runs one batch (tests).
#ifndef BUDSTIKKE_SERVICES_ADMIN_REWRAPPER_H_
#define BUDSTIKKE_SERVICES_ADMIN_REWRAPPER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "budstikke/v1/admin.pb.h"
#include "services/common/clock.h"
#include "storage/envelope.h"
#include "storage/keyring.h"
#include "storage/store.h"

namespace budstikke::admin {

// The readers named by a stored value that is an envelope (attachments,
// consultation content) or a framed one (common::SealedRecords: consents,
// referrals, messages); none for any other value. Unauthenticated: for
// counting and planning only.
std::vector<storage::Envelope::Reader> SealedReaders(std::string_view value);
// The column families of `store` that may hold sealed values (all but the
// keyring's and the admin one), sorted.
std::vector<std::string> DataColumnFamilies(const storage::Store& store);

class Rewrapper {
 public:
  static constexpr int kMaxPasses = 3;

  struct Options {
    size_t batch_size = 256;
    absl::Duration pause = absl::Milliseconds(20);
    absl::Duration retry_after = absl::Minutes(1);
    bool background = true;
    // Test hook: runs before each batch is written.
    std::function<void()> before_write;
  };

  // `store` must have the admin column family (key_target.h) and the
  // keyring's; all outlive the Rewrapper.
  Rewrapper(storage::Store* store, const storage::Keyring* keyring, const common::Clock* clock,
            Options options);
  // Stops the thread after its current batch; the job resumes at the next start.
  ~Rewrapper();

  // Starts (or starts over) the rewrap of `agency`'s values to its current
  // version: counts them, then leaves the work to the thread.
  absl::Status Start(absl::string_view agency);
  // One batch of the first job with work. True if a job has work left.
  absl::StatusOr<bool> RunBatch();
  // IDLE (target version: the current one) if no rewrap of `agency` ever ran here.
  absl::StatusOr<v1::RewrapProgress> Progress(absl::string_view agency) const;

  // For the metrics: values moved since the process started, and values
  // still to move over every job.
  uint64_t records_rewrapped() const { return rewrapped_.load(std::memory_order_relaxed); }
  uint64_t records_remaining() const;

 private:
  struct Job;  // in rewrapper.cc
  absl::StatusOr<Job> LoadJob(absl::string_view agency) const;
  // Values with a movable (not shredded) entry of `agency` below `target`.
  absl::StatusOr<uint64_t> CountOld(absl::string_view agency, uint32_t target) const;
  absl::StatusOr<bool> RunBatchLocked(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(job_mu_);
  absl::Status EndPass(Job* job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(job_mu_);
  absl::Status SaveJob(const Job& job);
  void Loop();
  bool WokenLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(wake_mu_) { return wake_ || stop_; }

  storage::Store* const store_;
  const storage::Keyring* const keyring_;
  const common::Clock* const clock_;
  const Options options_;
  std::atomic<uint64_t> rewrapped_{0};
  absl::Mutex job_mu_;  // one batch or start at a time
  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
  bool stop_ ABSL_GUARDED_BY(wake_mu_) = false;
  std::thread thread_;
};

}  // namespace budstikke::admin

#endif  // BUDSTIKKE_SERVICES_ADMIN_REWRAPPER_H_
