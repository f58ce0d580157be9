#include "storage/testing/power_loss_fs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rocksdb/file_system.h"

namespace budstikke::storage::testing {
namespace {

using rocksdb::FileOptions;
using rocksdb::FSDirectory;
using rocksdb::FSWritableFile;
using rocksdb::IODebugContext;
using rocksdb::IOOptions;
using rocksdb::IOStatus;
using rocksdb::Slice;

// The old content of a name a rename replaced is kept up to this size (RocksDB
// renames only small files over others: CURRENT, OPTIONS, IDENTITY).
constexpr uint64_t kMaxKeptContent = 1 << 20;

// "a//b/" -> "a/b": the same name for a path however RocksDB spells it.
std::string Normalize(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '/' && !out.empty() && out.back() == '/') continue;
    out.push_back(c);
  }
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<uint64_t> SizeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

absl::Status SysError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteWhole(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) return absl::UnavailableError(absl::StrCat("cannot restore ", path));
  return absl::OkStatus();
}

// What a power loss keeps of one file opened for writing.
struct FileState {
  uint64_t size = 0;    // bytes written so far
  uint64_t synced = 0;  // size at the last Sync/Fsync while powered
};

// A change to a directory that its next Fsync makes durable.
struct DirOp {
  enum Kind { kCreate, kRename } kind;
  std::string path;                     // kCreate: the file; kRename: the old name
  std::string to;                       // kRename: the new name
  std::optional<std::string> replaced;  // kRename: old content of `to`, if it existed
  uint64_t seq = 0;                     // order of all directory changes
};

}  // namespace

class PowerLossFileSystem::Fs final : public rocksdb::FileSystemWrapper {
 public:
  Fs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "BudstikkePowerLossFileSystem"; }

  IOStatus NewWritableFile(const std::string& f, const FileOptions& o,
                           std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return OpenForWrite(f, /*truncates=*/true, r, [&](std::unique_ptr<FSWritableFile>* t) {
      return target()->NewWritableFile(f, o, t, dbg);
    });
  }
  IOStatus ReopenWritableFile(const std::string& f, const FileOptions& o,
                              std::unique_ptr<FSWritableFile>* r, IODebugContext* dbg) override {
    return OpenForWrite(f, /*truncates=*/false, r, [&](std::unique_ptr<FSWritableFile>* t) {
      return target()->ReopenWritableFile(f, o, t, dbg);
    });
  }
  // Only used with recycle_log_file_num > 0, which Store does not set.
  IOStatus ReuseWritableFile(const std::string&, const std::string&, const FileOptions&,
                             std::unique_ptr<FSWritableFile>*, IODebugContext*) override {
    return IOStatus::NotSupported("power loss file system: ReuseWritableFile");
  }

  IOStatus NewDirectory(const std::string& name, const IOOptions& io,
                        std::unique_ptr<FSDirectory>* result, IODebugContext* dbg) override;

  IOStatus DeleteFile(const std::string& f, const IOOptions& io, IODebugContext* dbg) override {
    if (!powered()) return IOStatus::OK();  // could not reach the disk
    IOStatus s = target()->DeleteFile(f, io, dbg);
    if (s.ok()) Deleted(Normalize(f));
    return s;
  }

  IOStatus RenameFile(const std::string& from, const std::string& to, const IOOptions& io,
                      IODebugContext* dbg) override {
    if (!powered()) return IOStatus::OK();
    std::optional<std::string> replaced;
    if (std::optional<uint64_t> size = SizeOf(to); size && *size <= kMaxKeptContent) {
      std::ifstream in(to, std::ios::binary);
      replaced.emplace(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    IOStatus s = target()->RenameFile(from, to, io, dbg);
    if (s.ok()) Renamed(Normalize(from), Normalize(to), std::move(replaced));
    return s;
  }

  IOStatus LinkFile(const std::string& from, const std::string& to, const IOOptions& io,
                    IODebugContext* dbg) override {
    if (!powered()) return IOStatus::OK();
    IOStatus s = target()->LinkFile(from, to, io, dbg);
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      const std::string name = Normalize(to);
      AddOpLocked(DirOf(name), DirOp{DirOp::kCreate, name, "", std::nullopt});
    }
    return s;
  }

  IOStatus Truncate(const std::string& f, size_t size, const IOOptions& io,
                    IODebugContext* dbg) override {
    if (!powered()) return IOStatus::OK();
    IOStatus s = target()->Truncate(f, size, io, dbg);
    if (s.ok()) {
      absl::MutexLock lock(&mu_);
      auto it = files_.find(Normalize(f));
      if (it != files_.end()) TruncatedLocked(it->second.get(), size);
    }
    return s;
  }

  // ---- called by the file and directory wrappers ----

  bool powered() const { return powered_.load(); }

  void Wrote(FileState* state, uint64_t end) {
    absl::MutexLock lock(&mu_);
    state->size = std::max(state->size, end);
  }
  void Appended(FileState* state, uint64_t n) {
    absl::MutexLock lock(&mu_);
    state->size += n;
  }
  uint64_t SizeNow(FileState* state) {
    absl::MutexLock lock(&mu_);
    return state->size;
  }
  // `upto` bytes reached the disk by a sync that returned OK.
  void Synced(FileState* state, uint64_t upto) {
    absl::MutexLock lock(&mu_);
    if (!powered_.load()) return;
    state->synced = std::max(state->synced, upto);
    ++file_syncs_;
  }
  void Truncated(FileState* state, uint64_t size) {
    absl::MutexLock lock(&mu_);
    TruncatedLocked(state, size);
  }
  // The sequence number the next directory change gets: a directory Fsync
  // makes durable only the changes made before it started.
  uint64_t NextSeq() {
    absl::MutexLock lock(&mu_);
    return next_seq_;
  }
  void DirSynced(const std::string& dir, uint64_t started_at) {
    absl::MutexLock lock(&mu_);
    if (!powered_.load()) return;
    auto it = pending_.find(dir);
    if (it == pending_.end()) return;
    auto& ops = it->second;
    ops.erase(std::remove_if(ops.begin(), ops.end(),
                             [&](const DirOp& op) { return op.seq < started_at; }),
              ops.end());
  }

  void CutPower() {
    absl::MutexLock lock(&mu_);
    powered_.store(false);
  }

  absl::Status SimulatePowerLoss() {
    absl::MutexLock lock(&mu_);
    LossReport report;
    absl::Status status;
    for (const auto& [path, state] : files_) {
      std::optional<uint64_t> size = SizeOf(path);
      if (!size || *size <= state->synced) continue;
      if (::truncate(path.c_str(), static_cast<off_t>(state->synced)) != 0) {
        status.Update(SysError("cannot truncate", path));
        continue;
      }
      ++report.files_truncated;
      report.bytes_dropped += *size - state->synced;
    }
    for (auto& [dir, ops] : pending_) {
      for (auto op = ops.rbegin(); op != ops.rend(); ++op) status.Update(Undo(*op, &report));
    }
    files_.clear();
    pending_.clear();
    last_loss_ = report;
    powered_.store(true);
    return status;
  }

  LossReport last_loss() const {
    absl::MutexLock lock(&mu_);
    return last_loss_;
  }
  uint64_t file_syncs() const {
    absl::MutexLock lock(&mu_);
    return file_syncs_;
  }
  void HoldSyncs(bool hold) {
    absl::MutexLock lock(&mu_);
    hold_syncs_ = hold;
  }
  int syncs_held() const {
    absl::MutexLock lock(&mu_);
    return syncs_held_;
  }
  // Called before every file Sync/Fsync: waits while HoldSyncs(true).
  void WaitWhileSyncsHeld() {
    absl::MutexLock lock(&mu_);
    ++syncs_held_;
    mu_.Await(absl::Condition(this, &Fs::SyncsReleased));
    --syncs_held_;
  }

 private:
  IOStatus OpenForWrite(const std::string& f, bool truncates, std::unique_ptr<FSWritableFile>* r,
                        const std::function<IOStatus(std::unique_ptr<FSWritableFile>*)>& open);

  void AddOpLocked(const std::string& dir, DirOp op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    op.seq = next_seq_++;
    pending_[dir].push_back(std::move(op));
  }

  void TruncatedLocked(FileState* state, uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    state->size = size;
    state->synced = std::min(state->synced, size);
  }

  void Deleted(const std::string& name) {
    absl::MutexLock lock(&mu_);
    files_.erase(name);
    auto dir = pending_.find(DirOf(name));
    if (dir == pending_.end()) return;
    // A file created and deleted since the last Fsync: nothing to undo.
    auto& ops = dir->second;
    ops.erase(std::remove_if(
                  ops.begin(), ops.end(),
                  [&](const DirOp& op) { return op.kind == DirOp::kCreate && op.path == name; }),
              ops.end());
  }

  void Renamed(const std::string& from, const std::string& to,
               std::optional<std::string> replaced) {
    absl::MutexLock lock(&mu_);
    auto it = files_.find(from);
    if (it != files_.end()) {
      files_[to] = it->second;
      files_.erase(it);
    } else {
      files_.erase(to);
    }
    AddOpLocked(DirOf(to), DirOp{DirOp::kRename, from, to, std::move(replaced)});
  }

  absl::Status Undo(const DirOp& op, LossReport* report) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (op.kind == DirOp::kCreate) {
      if (!Exists(op.path)) return absl::OkStatus();
      if (::unlink(op.path.c_str()) != 0) return SysError("cannot remove", op.path);
      ++report->files_removed;
      return absl::OkStatus();
    }
    if (Exists(op.to) && ::rename(op.to.c_str(), op.path.c_str()) != 0) {
      return SysError("cannot rename back", op.to);
    }
    ++report->renames_undone;
    return op.replaced ? WriteWhole(op.to, *op.replaced) : absl::OkStatus();
  }

  bool SyncsReleased() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !hold_syncs_; }

  class File;
  class Dir;

  mutable absl::Mutex mu_;
  std::atomic<bool> powered_{true};
  // Every file opened for writing since the last power loss, by name.
  std::map<std::string, std::shared_ptr<FileState>> files_ ABSL_GUARDED_BY(mu_);
  // Directory changes since each directory's last Fsync, in order.
  std::map<std::string, std::vector<DirOp>> pending_ ABSL_GUARDED_BY(mu_);
  LossReport last_loss_ ABSL_GUARDED_BY(mu_);
  uint64_t file_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool hold_syncs_ ABSL_GUARDED_BY(mu_) = false;
  int syncs_held_ ABSL_GUARDED_BY(mu_) = 0;  // file syncs waiting in WaitWhileSyncsHeld
};

// A file opened for writing: counts what is written and synced.
class PowerLossFileSystem::Fs::File final : public rocksdb::FSWritableFileOwnerWrapper {
 public:
  File(std::unique_ptr<FSWritableFile> target, std::shared_ptr<FileState> state, Fs* fs)
      : FSWritableFileOwnerWrapper(std::move(target)), state_(std::move(state)), fs_(fs) {}

  IOStatus Append(const Slice& data, const IOOptions& io, IODebugContext* dbg) override {
    IOStatus s = target()->Append(data, io, dbg);
    if (s.ok()) fs_->Appended(state_.get(), data.size());
    return s;
  }
  IOStatus Append(const Slice& data, const IOOptions& io, const rocksdb::DataVerificationInfo& info,
                  IODebugContext* dbg) override {
    IOStatus s = target()->Append(data, io, info, dbg);
    if (s.ok()) fs_->Appended(state_.get(), data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& io,
                            IODebugContext* dbg) override {
    IOStatus s = target()->PositionedAppend(data, offset, io, dbg);
    if (s.ok()) fs_->Wrote(state_.get(), offset + data.size());
    return s;
  }
  IOStatus PositionedAppend(const Slice& data, uint64_t offset, const IOOptions& io,
                            const rocksdb::DataVerificationInfo& info,
                            IODebugContext* dbg) override {
    IOStatus s = target()->PositionedAppend(data, offset, io, info, dbg);
    if (s.ok()) fs_->Wrote(state_.get(), offset + data.size());
    return s;
  }
  IOStatus Truncate(uint64_t size, const IOOptions& io, IODebugContext* dbg) override {
    if (!fs_->powered()) return IOStatus::OK();
    IOStatus s = target()->Truncate(size, io, dbg);
    if (s.ok()) fs_->Truncated(state_.get(), size);
    return s;
  }
  IOStatus Sync(const IOOptions& io, IODebugContext* dbg) override {
    fs_->WaitWhileSyncsHeld();
    const uint64_t upto = fs_->SizeNow(state_.get());
    IOStatus s = target()->Sync(io, dbg);
    if (s.ok()) fs_->Synced(state_.get(), upto);
    return s;
  }
  IOStatus Fsync(const IOOptions& io, IODebugContext* dbg) override {
    fs_->WaitWhileSyncsHeld();
    const uint64_t upto = fs_->SizeNow(state_.get());
    IOStatus s = target()->Fsync(io, dbg);
    if (s.ok()) fs_->Synced(state_.get(), upto);
    return s;
  }
  // RangeSync, Flush and Close make nothing durable: inherited.

 private:
  std::shared_ptr<FileState> state_;
  Fs* fs_;
};

// A directory: its Fsync makes the changes in it since the previous durable.
class PowerLossFileSystem::Fs::Dir final : public rocksdb::FSDirectoryWrapper {
 public:
  Dir(std::unique_ptr<FSDirectory> target, std::string path, Fs* fs)
      : FSDirectoryWrapper(std::move(target)), path_(std::move(path)), fs_(fs) {}

  IOStatus Fsync(const IOOptions& io, IODebugContext* dbg) override {
    const uint64_t started_at = fs_->NextSeq();
    IOStatus s = FSDirectoryWrapper::Fsync(io, dbg);
    if (s.ok()) fs_->DirSynced(path_, started_at);
    return s;
  }
  IOStatus FsyncWithDirOptions(const IOOptions& io, IODebugContext* dbg,
                               const rocksdb::DirFsyncOptions& options) override {
    const uint64_t started_at = fs_->NextSeq();
    IOStatus s = FSDirectoryWrapper::FsyncWithDirOptions(io, dbg, options);
    if (s.ok()) fs_->DirSynced(path_, started_at);
    return s;
  }

 private:
  std::string path_;
  Fs* fs_;
};

IOStatus PowerLossFileSystem::Fs::NewDirectory(const std::string& name, const IOOptions& io,
                                               std::unique_ptr<FSDirectory>* result,
                                               IODebugContext* dbg) {
  std::unique_ptr<FSDirectory> dir;
  IOStatus s = target()->NewDirectory(name, io, &dir, dbg);
  if (s.ok()) *result = std::make_unique<Dir>(std::move(dir), Normalize(name), this);
  return s;
}

IOStatus PowerLossFileSystem::Fs::OpenForWrite(
    const std::string& f, bool truncates, std::unique_ptr<FSWritableFile>* r,
    const std::function<IOStatus(std::unique_ptr<FSWritableFile>*)>& open) {
  const std::string name = Normalize(f);
  const std::optional<uint64_t> old_size = SizeOf(name);
  if (!powered() && old_size && truncates) {
    // Truncating it would lose its durable content for real.
    return IOStatus::IOError("power loss file system: power is cut, cannot recreate", name);
  }
  std::unique_ptr<FSWritableFile> file;
  IOStatus s = open(&file);
  if (!s.ok()) return s;
  absl::MutexLock lock(&mu_);
  std::shared_ptr<FileState>& state = files_[name];
  if (truncates || state == nullptr) {
    const uint64_t kept = truncates ? 0 : old_size.value_or(0);
    state = std::make_shared<FileState>(FileState{kept, kept});
  } else {
    state->size = old_size.value_or(0);
  }
  if (!old_size) AddOpLocked(DirOf(name), DirOp{DirOp::kCreate, name, "", std::nullopt});
  *r = std::make_unique<File>(std::move(file), state, this);
  return s;
}

PowerLossFileSystem::PowerLossFileSystem() : fs_(std::make_shared<Fs>()) {}
PowerLossFileSystem::~PowerLossFileSystem() = default;

std::shared_ptr<rocksdb::FileSystem> PowerLossFileSystem::file_system() const { return fs_; }
void PowerLossFileSystem::CutPower() { fs_->CutPower(); }
bool PowerLossFileSystem::powered() const { return fs_->powered(); }
absl::Status PowerLossFileSystem::SimulatePowerLoss() { return fs_->SimulatePowerLoss(); }
PowerLossFileSystem::LossReport PowerLossFileSystem::last_loss() const { return fs_->last_loss(); }
uint64_t PowerLossFileSystem::file_syncs() const { return fs_->file_syncs(); }
void PowerLossFileSystem::HoldSyncs(bool hold) { fs_->HoldSyncs(hold); }
int PowerLossFileSystem::syncs_held() const { return fs_->syncs_held(); }

SyncHold::SyncHold(PowerLossFileSystem* fs) : fs_(fs) { fs_->HoldSyncs(true); }

SyncHold::~SyncHold() { Release(); }

void SyncHold::Spawn(std::function<void()> fn) { threads_.emplace_back(std::move(fn)); }

bool SyncHold::AwaitHeld(int n) const {
  return WaitUntil([&] { return fs_->syncs_held() == n; });
}

void SyncHold::Release() {
  fs_->HoldSyncs(false);
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

bool WaitUntil(const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!done() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  return done();
}

}  // namespace budstikke::storage::testing
