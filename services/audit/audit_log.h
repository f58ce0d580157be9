// AuditLog: the one append-only, tamper-evident audit log of a Budstikke
// deployment (domain engine; no gRPC, no authorization).
//
// Drains the transactional outbox (common::kAuditOutboxColumnFamily) into a
// storage::MerkleLog (RFC 9162) in group commits: one storage WriteBatch holds
// the leaves (audit/event_codec.h encoding, with the log index), the tree's
// stored hashes, the new size, the query index entries and the deletion of
// the drained outbox entries, so every event is in the outbox or in the log,
// exactly once, and log indexes have no gaps. Signs C2SP checkpoints
// (origin = signer name) of the current size at most every
// `checkpoint_interval` while the log grows.
//
// Query index (column family "audit_index"), value empty, key
//   's' subject-pseudonym 0x00 BE64(index)   'a' agency 0x00 BE64(index)
//   'u' agency '/' user 0x00 BE64(index)     'x' action 0x00 BE64(index)
//
// Background work runs on one thread between Start() and Stop() (or the
// destructor); DrainOnce()/SignCheckpoint() may instead be called directly
// (tests, benchmarks) but not concurrently with the thread.
// Read methods are thread-safe.
#ifndef BUDSTIKKE_SERVICES_AUDIT_AUDIT_LOG_H_
#define BUDSTIKKE_SERVICES_AUDIT_AUDIT_LOG_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "budstikke/v1/audit.pb.h"
#include "services/common/clock.h"
#include "storage/merkle_log.h"
#include "storage/store.h"
#include "tlog/note.h"

namespace budstikke::audit {

inline constexpr char kIndexColumnFamily[] = "audit_index";
// The event that records an accepted rollback (--accept-audit-rollback);
// resource AUDIT_LOG "published=<anchored size>,restored=<stored size>".
inline constexpr char kActionRollbackAccepted[] = "audit.rollback_accepted";

struct AuditLogOptions {
  // Most outbox events appended in one group commit.
  int max_batch = 4096;
  // Idle wait between outbox polls.
  absl::Duration poll_interval = absl::Milliseconds(5);
  // A rescan for late commits with lower keys at least this often; it starts
  // where the drain had got to at the previous rescan (bounded work: drained
  // entries leave delete tombstones that a scan from the start walks over) ...
  absl::Duration rescan_interval = absl::Milliseconds(200);
  // ... and from the very start of the outbox at least this often (and on the
  // first drain after start), for a write that stalled longer than that.
  absl::Duration full_rescan_interval = absl::Seconds(10);
  absl::Duration checkpoint_interval = absl::Milliseconds(500);
  // Stored hashes at this level and above are kept in memory.
  int cache_min_level = 4;
  // Where the last signed checkpoint is also kept, outside the data dir
  // (written durably after every checkpoint; empty: not kept). A log smaller
  // than it, or one whose root at its size differs, does not start: the data
  // dir was restored or rolled back, and signing would fork the published log.
  std::string anchor_file;
  // Start anyway on a log smaller than the anchor (accepted_rollback() then
  // tells the sizes; the server records them as a signed event).
  bool accept_rollback = false;
};

// Filters of a query; empty / unset members match everything.
struct AuditFilter {
  std::string subject;  // pseudonym
  std::string actor_agency;
  std::string actor_user;
  std::string action;
  v1::AuditOutcome outcome = v1::AUDIT_OUTCOME_UNSPECIFIED;
  std::optional<absl::Time> since, until;  // since <= time < until
};

struct AuditPage {
  std::vector<v1::AuditRecord> records;  // ascending index
  std::string next_page_token;
};

class AuditLog {
 public:
  // Column families the store must have (log, index and outbox).
  static std::vector<std::string> ColumnFamilies();

  // `store`, `signer` and `clock` must outlive the log. A stored checkpoint
  // must verify under `signer`'s key and match the stored tree (its size at
  // most the stored size, the root recomputed from the stored hashes at its
  // size equal to its root); otherwise DATA_LOSS with a one-line reason and
  // the server refuses to start. (No stored checkpoint over a non-empty log is
  // legitimate: a crash before the first checkpoint; `audit verify --state`
  // catches a tree altered then.) With an anchor file, its checkpoint must
  // verify and match the stored tree too; a log smaller than it is
  // FAILED_PRECONDITION unless `accept_rollback`.
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(storage::Store* store,
                                                          const tlog::Signer* signer,
                                                          const common::Clock* clock,
                                                          AuditLogOptions options = {});
  ~AuditLog();

  // Called with false when a drain or checkpoint write fails, true when one
  // succeeds again (changes only). Set before Start().
  void SetHealthObserver(std::function<void(bool)> observer) { observer_ = std::move(observer); }

  void Start();
  void Stop();

  // Appends up to max_batch outbox events; returns how many.
  absl::StatusOr<int> DrainOnce();
  // Drains until the outbox is empty.
  absl::Status DrainAll();
  // Signs and stores a checkpoint of the current size unless the latest
  // already has it; returns the signed note. Only what is durable is signed
  // (the WAL is synced first), and the anchor file is written before the
  // checkpoint is served.
  absl::StatusOr<std::string> SignCheckpoint();
  // The (anchored, stored) sizes when Create accepted a rolled-back log.
  std::optional<std::pair<uint64_t, uint64_t>> accepted_rollback() const { return rollback_; }

  uint64_t size() const { return tree_->size(); }
  const tlog::Signer& signer() const { return *signer_; }
  // The latest signed checkpoint; FAILED_PRECONDITION before the first.
  absl::StatusOr<v1::Checkpoint> LatestCheckpoint() const;

  // Event `index` (< size()): leaf data and decoded event. NOT_FOUND beyond.
  absl::StatusOr<v1::GetEventResponse> GetEvent(uint64_t index) const;
  // tree_size 0 = the latest checkpoint's; INVALID_ARGUMENT unless
  // index < tree_size <= latest checkpoint size.
  absl::StatusOr<v1::InclusionProof> InclusionProof(uint64_t index, uint64_t tree_size) const;
  // INVALID_ARGUMENT unless 0 < first <= second <= latest checkpoint size.
  absl::StatusOr<v1::ConsistencyProof> ConsistencyProof(uint64_t first, uint64_t second) const;

  // Events matching `filter` with index < `bound`, from the page token on.
  // With `proof_size` > 0, records carry leaf data and inclusion proofs
  // against that tree size. page_size in [1, 1000] (0 = 50).
  absl::StatusOr<AuditPage> Query(const AuditFilter& filter, uint64_t bound, uint64_t proof_size,
                                  int page_size, const std::string& page_token) const;

  storage::MerkleLog& tree() { return *tree_; }

 private:
  AuditLog(storage::Store* store, const tlog::Signer* signer, const common::Clock* clock,
           AuditLogOptions options, std::unique_ptr<storage::MerkleLog> tree);
  void Loop();
  // Appends up to max_batch outbox entries from cursor_ on.
  absl::StatusOr<int> DrainBatch();
  void ReportHealth(bool healthy);
  absl::StatusOr<v1::Checkpoint> ParseCheckpoint(const std::string& note) const;
  // DATA_LOSS unless the stored tree has `cp`'s root at its size (`what`
  // names where `cp` came from). `cp` must not be beyond the stored size.
  absl::Status CheckTreeMatches(const v1::Checkpoint& cp, absl::string_view what) const;
  absl::Status CheckAnchor();

  storage::Store* store_;
  const tlog::Signer* signer_;
  const common::Clock* clock_;
  AuditLogOptions options_;
  std::unique_ptr<storage::MerkleLog> tree_;
  std::function<void(bool)> observer_;
  int healthy_ = 1;  // drain thread only

  // Drain cursor (drain thread only).
  std::string cursor_;
  std::string previous_rescan_cursor_;  // high_water_ at the previous rescan
  std::string high_water_;              // past the highest key drained
  absl::Time last_rescan_ = absl::InfinitePast();
  absl::Time last_full_rescan_ = absl::InfinitePast();

  mutable absl::Mutex cp_mu_;
  std::optional<v1::Checkpoint> checkpoint_ ABSL_GUARDED_BY(cp_mu_);
  std::optional<std::pair<uint64_t, uint64_t>> rollback_;  // set by Create only

  absl::Mutex stop_mu_;
  bool stop_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace budstikke::audit

#endif  // BUDSTIKKE_SERVICES_AUDIT_AUDIT_LOG_H_
