#include "services/admin/rewrapper.h"

#include <algorithm>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/admin/key_target.h"
#include "services/common/record_codec.h"
#include "services/common/sealed_records.h"
#include "services/common/time_util.h"
#include "storage/envelope.h"
#include "storage/status_macros.h"

namespace budstikke::admin {
namespace {

std::string_view Sv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::string JobKey(absl::string_view agency) { return absl::StrCat("rewrap/", agency); }
std::string PositionKey(absl::string_view agency) { return absl::StrCat("rewrap-at/", agency); }
constexpr char kJobPrefix[] = "rewrap/";

// A scan looks at no more than this many values per batch it may write.
constexpr size_t kScanPerBatchFactor = 16;

// The agency's entry in a value's envelope, if it is below `target`.
std::optional<uint32_t> OldVersion(std::string_view value, absl::string_view agency,
                                   uint32_t target) {
  for (const storage::Envelope::Reader& r : SealedReaders(value)) {
    if (r.agency == Sv(agency) && r.key_version < target) return r.key_version;
  }
  return std::nullopt;
}

// A plain envelope or a framed one (common::SealedRecords), rewrapped.
absl::StatusOr<std::string> RewrapValue(const storage::Keyring& keyring, std::string_view cf,
                                        std::string_view key, std::string_view value,
                                        absl::string_view agency) {
  if (storage::Envelope::Readers(value).ok()) {
    return storage::Envelope::Rewrap(keyring, cf, key, value, Sv(agency));
  }
  return common::SealedRecords::Rewrap(keyring, cf, key, value, Sv(agency));
}

}  // namespace

std::vector<storage::Envelope::Reader> SealedReaders(std::string_view value) {
  absl::StatusOr<std::vector<storage::Envelope::Reader>> raw = storage::Envelope::Readers(value);
  if (raw.ok()) return *std::move(raw);
  std::string pseudonym, sealed;
  if (!common::Unframe(absl::string_view(value.data(), value.size()), &pseudonym, &sealed)) {
    return {};
  }
  absl::StatusOr<std::vector<storage::Envelope::Reader>> inner = storage::Envelope::Readers(sealed);
  return inner.ok() ? *std::move(inner) : std::vector<storage::Envelope::Reader>();
}

std::vector<std::string> DataColumnFamilies(const storage::Store& store) {
  std::vector<std::string> skip = storage::Keyring::ColumnFamilies();
  skip.push_back(kAdminColumnFamily);
  std::vector<std::string> out;
  for (const std::string& cf : store.ColumnFamilies()) {
    if (std::find(skip.begin(), skip.end(), cf) == skip.end()) out.push_back(cf);
  }
  return out;  // sorted, as ColumnFamilies()
}

// A job: its progress and where its pass stands. Position encoding (value of
// "rewrap-at/<agency>"): u8 pass (0: not counted yet), u8 has_key, column
// family, NUL, last key done in it.
struct Rewrapper::Job {
  std::string agency;
  v1::RewrapProgress progress;
  int pass = 0;
  std::string cf;  // empty: the pass starts at the first column family
  bool has_key = false;
  std::string last_key;

  std::string EncodePosition() const {
    std::string out;
    out.push_back(static_cast<char>(pass));
    out.push_back(has_key ? 1 : 0);
    out.append(cf);
    out.push_back('\0');
    out.append(last_key);
    return out;
  }
  bool DecodePosition(std::string_view in) {
    if (in.size() < 3) return false;
    pass = static_cast<uint8_t>(in[0]);
    has_key = in[1] != 0;
    const size_t nul = in.find('\0', 2);
    if (nul == std::string_view::npos) return false;
    cf = std::string(in.substr(2, nul - 2));
    last_key = std::string(in.substr(nul + 1));
    return true;
  }
  void StartPass(int n) {
    pass = n;
    cf.clear();
    has_key = false;
    last_key.clear();
  }
};

Rewrapper::Rewrapper(storage::Store* store, const storage::Keyring* keyring,
                     const common::Clock* clock, Options options)
    : store_(store), keyring_(keyring), clock_(clock), options_(options) {
  if (options_.background) thread_ = std::thread([this] { Loop(); });
}

Rewrapper::~Rewrapper() {
  {
    absl::MutexLock lock(&wake_mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<Rewrapper::Job> Rewrapper::LoadJob(absl::string_view agency) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::string stored, store_->Get(kAdminColumnFamily, JobKey(agency)));
  Job job;
  job.agency = std::string(agency);
  if (!job.progress.ParseFromString(stored)) {
    return absl::DataLossError(absl::StrCat("stored rewrap job of '", agency, "' is corrupt"));
  }
  absl::StatusOr<std::string> at = store_->Get(kAdminColumnFamily, PositionKey(agency));
  if (!at.ok() && !absl::IsNotFound(at.status())) return at.status();
  if (at.ok() && !job.DecodePosition(*at)) {
    return absl::DataLossError(absl::StrCat("stored rewrap position of '", agency, "' is corrupt"));
  }
  return job;
}

absl::Status Rewrapper::SaveJob(const Job& job) {
  storage::WriteBatch batch;
  batch.Put(kAdminColumnFamily, JobKey(job.agency), job.progress.SerializeAsString());
  batch.Put(kAdminColumnFamily, PositionKey(job.agency), job.EncodePosition());
  return store_->Write(std::move(batch));
}

absl::Status Rewrapper::Start(absl::string_view agency) {
  {
    absl::MutexLock lock(&job_mu_);
    BUDSTIKKE_ASSIGN_OR_RETURN(uint32_t target, keyring_->CurrentVersion(Sv(agency)));
    Job job;
    job.agency = std::string(agency);
    job.progress.set_agency(std::string(agency));
    job.progress.set_state(v1::REWRAP_STATE_RUNNING);
    job.progress.set_target_version(target);
    *job.progress.mutable_start_time() = common::ToProtoTime(clock_->Now());
    *job.progress.mutable_update_time() = job.progress.start_time();
    job.StartPass(0);  // counted by the first batch, off the caller's thread
    BUDSTIKKE_RETURN_IF_ERROR(SaveJob(job));
  }
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Rewrapper::CountOld(absl::string_view agency, uint32_t target) const {
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<storage::KeyVersionInfo> versions,
                             keyring_->ListVersions(Sv(agency)));
  auto movable = [&](uint32_t v) {
    for (const storage::KeyVersionInfo& info : versions) {
      if (info.version == v) return !info.shredded;
    }
    return false;
  };
  uint64_t n = 0;
  for (const std::string& cf : DataColumnFamilies(*store_)) {
    std::unique_ptr<storage::Iterator> it = store_->Scan(cf, "");
    for (; it->Valid(); it->Next()) {
      std::optional<uint32_t> old = OldVersion(it->value(), agency, target);
      if (old.has_value() && movable(*old)) ++n;
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  return n;
}

absl::StatusOr<bool> Rewrapper::RunBatch() {
  absl::MutexLock lock(&job_mu_);
  std::vector<std::string> agencies;
  {
    std::unique_ptr<storage::Iterator> it = store_->Scan(kAdminColumnFamily, kJobPrefix);
    for (; it->Valid(); it->Next()) {
      agencies.emplace_back(it->key().substr(sizeof kJobPrefix - 1));
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
  }
  bool more = false;
  bool ran = false;
  for (const std::string& agency : agencies) {
    BUDSTIKKE_ASSIGN_OR_RETURN(Job job, LoadJob(agency));
    v1::RewrapState state = job.progress.state();
    if (state == v1::REWRAP_STATE_FAILED &&
        clock_->Now() >= common::FromProtoTime(job.progress.update_time()) + options_.retry_after) {
      job.progress.set_state(v1::REWRAP_STATE_RUNNING);
      job.progress.clear_error();
      job.StartPass(0);
      state = v1::REWRAP_STATE_RUNNING;
    }
    if (state != v1::REWRAP_STATE_RUNNING) continue;
    if (ran) {
      more = true;
      break;
    }
    ran = true;
    BUDSTIKKE_ASSIGN_OR_RETURN(bool job_more, RunBatchLocked(&job));
    more = more || job_more;
  }
  return more;
}

absl::StatusOr<bool> Rewrapper::RunBatchLocked(Job* job) {
  const uint32_t target = job->progress.target_version();
  if (job->pass == 0) {  // a new job or a retry: count first
    BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t old, CountOld(job->agency, target));
    job->progress.set_records_total(job->progress.records_done() + old);
    job->StartPass(1);
    *job->progress.mutable_update_time() = common::ToProtoTime(clock_->Now());
    if (old == 0) job->progress.set_state(v1::REWRAP_STATE_DONE);
    BUDSTIKKE_RETURN_IF_ERROR(SaveJob(*job));
    return old != 0;
  }
  std::vector<storage::Store::Replacement> replacements;
  const std::vector<std::string> families = DataColumnFamilies(*store_);
  auto fi = job->cf.empty() ? families.begin()
                            : std::lower_bound(families.begin(), families.end(), job->cf);
  size_t scanned = 0;
  const size_t scan_limit = options_.batch_size * kScanPerBatchFactor;
  bool pass_done = true;
  for (; fi != families.end() && pass_done; ++fi) {
    const std::string& cf = *fi;
    const bool resume = cf == job->cf && job->has_key;
    std::unique_ptr<storage::Iterator> it =
        resume ? store_->ScanFrom(cf, job->last_key) : store_->Scan(cf, "");
    if (resume && it->Valid() && it->key() == job->last_key) it->Next();
    if (!resume) {  // a new family: nothing of it done yet
      job->cf = cf;
      job->has_key = false;
      job->last_key.clear();
    }
    for (; it->Valid(); it->Next()) {
      if (replacements.size() >= options_.batch_size || scanned >= scan_limit) {
        pass_done = false;
        break;
      }
      ++scanned;
      job->has_key = true;
      job->last_key = std::string(it->key());
      if (!OldVersion(it->value(), job->agency, target).has_value()) continue;
      absl::StatusOr<std::string> moved =
          RewrapValue(*keyring_, cf, it->key(), it->value(), job->agency);
      // Not movable (shredded version, tampered value): left as it is, so it
      // still counts for key.shred.in_use.
      if (!moved.ok() || *moved == it->value()) continue;
      replacements.push_back({cf, std::string(it->key()), std::string(it->value()), *moved});
    }
    BUDSTIKKE_RETURN_IF_ERROR(it->status());
    if (pass_done) {
      job->has_key = false;
      job->last_key.clear();
    }
  }
  const uint64_t done_before = job->progress.records_done();
  job->progress.set_records_done(done_before + replacements.size());
  *job->progress.mutable_update_time() = common::ToProtoTime(clock_->Now());
  storage::WriteBatch batch;
  batch.Put(kAdminColumnFamily, JobKey(job->agency), job->progress.SerializeAsString());
  batch.Put(kAdminColumnFamily, PositionKey(job->agency), job->EncodePosition());
  if (options_.before_write) options_.before_write();
  BUDSTIKKE_ASSIGN_OR_RETURN(std::vector<bool> put,
                             store_->ReplaceIfUnchanged(replacements, std::move(batch)));
  const uint64_t moved = std::count(put.begin(), put.end(), true);
  rewrapped_.fetch_add(moved, std::memory_order_relaxed);
  if (moved != replacements.size()) {
    // Rewritten by their service meanwhile: not moved by this batch.
    job->progress.set_records_done(done_before + moved);
    BUDSTIKKE_RETURN_IF_ERROR(SaveJob(*job));
  }
  if (!pass_done) return true;
  BUDSTIKKE_RETURN_IF_ERROR(EndPass(job));
  return job->progress.state() == v1::REWRAP_STATE_RUNNING;
}

absl::Status Rewrapper::EndPass(Job* job) {
  BUDSTIKKE_ASSIGN_OR_RETURN(uint64_t left, CountOld(job->agency, job->progress.target_version()));
  const uint64_t done = job->progress.records_done();
  if (left == 0) {
    job->progress.set_state(v1::REWRAP_STATE_DONE);
    job->progress.set_records_total(done);
  } else if (job->pass < kMaxPasses) {
    // Written back under an old version while the pass ran: another pass.
    job->progress.set_records_total(done + left);
    job->StartPass(job->pass + 1);
  } else {
    job->progress.set_state(v1::REWRAP_STATE_FAILED);
    job->progress.set_records_total(done + left);
    job->progress.set_error(absl::StrCat(left, left == 1 ? " value" : " values",
                                         " could not be moved after ", kMaxPasses,
                                         " passes (tampered, or rewritten under the old "
                                         "version meanwhile); retried"));
  }
  *job->progress.mutable_update_time() = common::ToProtoTime(clock_->Now());
  return SaveJob(*job);
}

absl::StatusOr<v1::RewrapProgress> Rewrapper::Progress(absl::string_view agency) const {
  absl::StatusOr<Job> job = LoadJob(agency);
  if (job.ok()) return job->progress;
  if (!absl::IsNotFound(job.status())) return job.status();
  v1::RewrapProgress idle;
  idle.set_agency(std::string(agency));
  idle.set_state(v1::REWRAP_STATE_IDLE);
  absl::StatusOr<uint32_t> current = keyring_->CurrentVersion(Sv(agency));
  if (current.ok()) idle.set_target_version(*current);
  if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
  return idle;
}

uint64_t Rewrapper::records_remaining() const {
  uint64_t left = 0;
  std::unique_ptr<storage::Iterator> it = store_->Scan(kAdminColumnFamily, kJobPrefix);
  for (; it->Valid(); it->Next()) {
    v1::RewrapProgress p;
    if (!p.ParseFromString(std::string(it->value()))) continue;
    if (p.state() == v1::REWRAP_STATE_RUNNING || p.state() == v1::REWRAP_STATE_FAILED) {
      left += p.records_total() > p.records_done() ? p.records_total() - p.records_done() : 0;
    }
  }
  return left;
}

void Rewrapper::Loop() {
  while (true) {
    absl::StatusOr<bool> more = RunBatch();
    // A store error: retried like a failed job, but sooner.
    const absl::Duration wait = !more.ok() ? options_.pause * 50
                                : *more    ? options_.pause
                                           : options_.retry_after;
    absl::MutexLock lock(&wake_mu_);
    wake_mu_.AwaitWithTimeout(absl::Condition(this, &Rewrapper::WokenLocked), wait);
    if (stop_) return;
    wake_ = false;
  }
}

}  // namespace budstikke::admin
