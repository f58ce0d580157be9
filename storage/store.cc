#include "storage/store.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/file_system.h"
#include "rocksdb/options.h"
#include "rocksdb/sst_file_reader.h"
#include "rocksdb/utilities/backup_engine.h"
#include "rocksdb/write_batch.h"
#include "storage/internal/rocksdb_options.h"
#include "storage/internal/strings.h"

namespace budstikke::storage {
namespace {

using internal::Sv;

// The one place where rocksdb::Status becomes absl::Status.
absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(Sv(what), ": ", s.ToString());
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(msg);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(msg);
    case rocksdb::Status::kIOError:
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
      return absl::UnavailableError(msg);
    case rocksdb::Status::kInvalidArgument:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status UnknownCf(std::string_view cf) {
  return absl::InvalidArgumentError(absl::StrCat("unknown column family '", Sv(cf), "'"));
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// Creates `path` (and missing parents) with mode 0700.
absl::Status MakeDirs(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("empty database path");
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::UnavailableError(
          absl::StrCat("cannot create directory ", partial, ": ", std::strerror(errno)));
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
  }
  return absl::OkStatus();
}

// Removes `path` and everything below it.
absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot remove ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

// Smallest string greater than every string starting with `prefix`; empty if
// there is none (prefix empty or all 0xff).
std::string PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char c = static_cast<unsigned char>(s.back());
    if (c != 0xff) {
      s.back() = static_cast<char>(c + 1);
      return s;
    }
    s.pop_back();
  }
  return s;
}

// RocksDB's info log, passed through, noting the WAL file that recovery
// found damaged: the Corruption status DB::Open returns does not name it,
// only its "<file>: dropping <n> bytes; <reason>" log line does.
class CorruptWalNotingLogger final : public rocksdb::Logger {
 public:
  explicit CorruptWalNotingLogger(std::shared_ptr<rocksdb::Logger> target)
      : rocksdb::Logger(target->GetInfoLogLevel()), target_(std::move(target)) {}

  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level >= rocksdb::InfoLogLevel::WARN_LEVEL) Note(format, ap);
    target_->Logv(level, format, ap);
  }
  void LogHeader(const char* format, va_list ap) override { target_->LogHeader(format, ap); }
  size_t GetLogFileSize() const override { return target_->GetLogFileSize(); }
  void Flush() override { target_->Flush(); }
  void SetInfoLogLevel(const rocksdb::InfoLogLevel level) override {
    rocksdb::Logger::SetInfoLogLevel(level);
    target_->SetInfoLogLevel(level);
  }

  // The first WAL file recovery reported damaged ("" if none).
  std::string corrupt_wal() const {
    std::lock_guard<std::mutex> lock(mu_);
    return corrupt_wal_;
  }

 private:
  void Note(const char* format, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    char line[1024];
    std::vsnprintf(line, sizeof line, format, copy);
    va_end(copy);
    const std::string_view text(line);
    const size_t at = text.find(".log: dropping ");
    if (at == std::string_view::npos) return;
    // "[db/db_impl/db_impl_open.cc:<line>] " then the path (spaces allowed).
    std::string_view file = text.substr(0, at + 4);
    if (!file.empty() && file.front() == '[') {
      const size_t end = file.find("] ");
      if (end != std::string_view::npos) file.remove_prefix(end + 2);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (corrupt_wal_.empty()) corrupt_wal_ = std::string(file);
  }

  std::shared_ptr<rocksdb::Logger> target_;
  mutable std::mutex mu_;
  std::string corrupt_wal_;
};

constexpr char kCorruptionAdvice[] =
    "; the data dir is damaged: restore the data dir from a backup (docs/OPERATIONS.md, "
    "\"Corruption\")";

// The first SST file of `path` that does not open (footer, properties,
// index and filter: what RocksDB reads when it opens a table, not the data
// blocks), or "". For damage RocksDB reports against the MANIFEST it was
// replaying (a flipped byte in a table's properties block: "properties
// unsorted in file .../MANIFEST-000135"), so that the refusal names the
// damaged file. A table left half-written by a crash would also fail here;
// RocksDB deletes such files when an open succeeds.
std::string FirstTableThatDoesNotOpen(const rocksdb::Options& options, const std::string& path) {
  std::vector<std::string> names;
  if (!options.env->GetChildren(path, &names).ok()) return "";
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ".sst")) continue;
    const std::string file = absl::StrCat(path, "/", name);
    rocksdb::SstFileReader reader(options);
    if (!reader.Open(file).ok()) return file;
  }
  return "";
}

// The refusal to open a damaged database: names the file and what to do.
absl::Status OpenCorruption(const rocksdb::Status& s, const std::string& path,
                            const std::string& corrupt_wal, const rocksdb::Options& options) {
  std::string detail = s.ToString();
  if (!corrupt_wal.empty() && detail.find(corrupt_wal) == std::string::npos) {
    detail = absl::StrCat("write-ahead log ", corrupt_wal, ": ", detail);
  } else if (corrupt_wal.empty() && detail.find(".sst") == std::string::npos &&
             detail.find("MANIFEST") != std::string::npos) {
    const std::string table = FirstTableThatDoesNotOpen(options, path);
    if (!table.empty()) detail = absl::StrCat("table ", table, " does not open: ", detail);
  }
  return absl::DataLossError(absl::StrCat("open database ", path, ": ", detail, kCorruptionAdvice));
}

class SnapshotImpl final : public Snapshot {
 public:
  SnapshotImpl(rocksdb::DB* db, const rocksdb::Snapshot* snap) : db_(db), snap_(snap) {}
  ~SnapshotImpl() override { db_->ReleaseSnapshot(snap_); }
  const rocksdb::Snapshot* get() const { return snap_; }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snap_;
};

const rocksdb::Snapshot* RocksSnapshot(const Snapshot* s) {
  return s == nullptr ? nullptr : static_cast<const SnapshotImpl*>(s)->get();
}

class ErrorIterator final : public Iterator {
 public:
  explicit ErrorIterator(absl::Status s) : status_(std::move(s)) {}
  bool Valid() const override { return false; }
  void Next() override {}
  void Seek(std::string_view) override {}
  void SeekToLast() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

class PrefixIterator final : public Iterator {
 public:
  // Keys starting with `prefix`, positioned at the first >= `first` (the
  // prefix itself when empty).
  PrefixIterator(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string_view prefix,
                 const rocksdb::Snapshot* snap, std::string_view first = {})
      : prefix_(prefix),
        upper_(PrefixSuccessor(prefix)),
        lower_slice_(prefix_),
        upper_slice_(upper_) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    ro.iterate_lower_bound = &lower_slice_;  // SeekToLast stays within the prefix
    if (!upper_.empty()) ro.iterate_upper_bound = &upper_slice_;
    it_.reset(db->NewIterator(ro, cf));
    Seek(first);
  }
  bool Valid() const override { return it_->Valid(); }
  void Next() override { it_->Next(); }
  void Seek(std::string_view target) override {
    // Never position before the prefix.
    it_->Seek(ToSlice(target < std::string_view(prefix_) ? std::string_view(prefix_) : target));
  }
  void SeekToLast() override { it_->SeekToLast(); }
  std::string_view key() const override {
    rocksdb::Slice k = it_->key();
    return std::string_view(k.data(), k.size());
  }
  std::string_view value() const override {
    rocksdb::Slice v = it_->value();
    return std::string_view(v.data(), v.size());
  }
  absl::Status status() const override { return FromRocks(it_->status(), "scan"); }

 private:
  std::string prefix_;
  std::string upper_;
  rocksdb::Slice lower_slice_;  // both must outlive it_
  rocksdb::Slice upper_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

}  // namespace

std::string WithCorruptionAdvice(const absl::Status& s) {
  std::string message(s.message());
  if (s.code() == absl::StatusCode::kDataLoss &&
      message.find("Corruption: ") != std::string::npos &&
      message.find(kCorruptionAdvice) == std::string::npos) {
    message += kCorruptionAdvice;
  }
  return message;
}

// ---- WriteBatch ----

WriteBatch::WriteBatch() = default;
WriteBatch::~WriteBatch() { Settle(false); }
WriteBatch::WriteBatch(WriteBatch&& other) noexcept
    : data_(std::move(other.data_)), count_(other.count_), hooks_(std::move(other.hooks_)) {
  other.hooks_.clear();
  other.count_ = 0;
}
WriteBatch& WriteBatch::operator=(WriteBatch&& other) noexcept {
  if (this != &other) {
    Settle(false);
    data_ = std::move(other.data_);
    count_ = other.count_;
    hooks_ = std::move(other.hooks_);
    other.hooks_.clear();
    other.count_ = 0;
  }
  return *this;
}

void WriteBatch::OnSettled(std::function<void(bool written)> hook) {
  hooks_.push_back(std::move(hook));
}

void WriteBatch::Settle(bool written) {
  for (auto& hook : TakeHooks()) hook(written);
}

std::vector<std::function<void(bool)>> WriteBatch::TakeHooks() {
  std::vector<std::function<void(bool)>> hooks;
  hooks.swap(hooks_);
  return hooks;
}

namespace {

constexpr char kPutOp = 0;
constexpr char kDeleteOp = 1;

void AppendSized(std::string_view bytes, std::string* out) {
  const uint32_t n = static_cast<uint32_t>(bytes.size());
  out->append(reinterpret_cast<const char*>(&n), sizeof n);
  out->append(bytes.data(), bytes.size());
}

// Reads one u32-sized field at *pos of `data` (written by AppendSized).
std::string_view ReadSized(const std::string& data, size_t* pos) {
  uint32_t n;
  std::memcpy(&n, data.data() + *pos, sizeof n);
  std::string_view out(data.data() + *pos + sizeof n, n);
  *pos += sizeof n + n;
  return out;
}

}  // namespace

void WriteBatch::Append(char kind, std::string_view cf, std::string_view key,
                        std::string_view value) {
  data_.push_back(kind);
  AppendSized(cf, &data_);
  AppendSized(key, &data_);
  AppendSized(value, &data_);
  ++count_;
}

void WriteBatch::Put(std::string_view cf, std::string_view key, std::string_view value) {
  Append(kPutOp, cf, key, value);
}
void WriteBatch::Delete(std::string_view cf, std::string_view key) {
  Append(kDeleteOp, cf, key, {});
}
int WriteBatch::Count() const { return count_; }

// ---- Store ----

struct Store::Impl {
  std::shared_ptr<FaultInjector> faults;  // test hook, may be null
  bool read_only = false;
  // Set with Options::file_system (test hook); outlives `db`.
  std::unique_ptr<rocksdb::Env> env;
  // Set after a failed write; the next write calls DB::Resume() first.
  std::atomic<bool> needs_resume{false};
  std::string path;
  rocksdb::WriteOptions write_options;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  // Keyed by name; std::less<> allows lookup by string_view.
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> by_name;
  std::unique_ptr<rocksdb::DB> db;
  // Shared by every write, exclusive for ReplaceIfUnchanged's check-and-set.
  std::shared_mutex write_gate;
  // Group sync (SyncWal): one fsync at a time; the callers that arrive while
  // it runs wait and share the next one.
  std::mutex sync_mu;
  std::condition_variable sync_cv;
  bool syncing = false;     // guarded by sync_mu
  uint64_t synced_seq = 0;  // guarded by sync_mu: every write up to it is durable
  // Hooks of batches written with Sync::kDeferred, run once a sync covers the
  // sequence number (guarded by sync_mu).
  std::vector<std::pair<uint64_t, std::function<void(bool)>>> unsynced_hooks;

  // Settles `batch` after a write that returned `written`: at once, or for a
  // deferred write in a syncing store, when SyncWal covers it.
  void SettleWritten(WriteBatch& batch, const absl::Status& written, bool deferred) {
    if (!written.ok() || !deferred || !write_options.sync) {
      batch.Settle(written.ok());
      return;
    }
    const uint64_t seq = db->GetLatestSequenceNumber();  // at least this write's
    std::lock_guard<std::mutex> lock(sync_mu);
    for (auto& hook : batch.TakeHooks()) unsynced_hooks.emplace_back(seq, std::move(hook));
  }
  // Removes and returns the hooks of the writes up to synced_seq.
  std::vector<std::function<void(bool)>> TakeSyncedHooksLocked() {
    // The synced hooks move to the back, in order; they leave in one pass.
    const auto first_synced =
        std::stable_partition(unsynced_hooks.begin(), unsynced_hooks.end(),
                              [&](const auto& h) { return h.first > synced_seq; });
    std::vector<std::function<void(bool)>> ready;
    ready.reserve(unsynced_hooks.end() - first_synced);
    for (auto it = first_synced; it != unsynced_hooks.end(); ++it) {
      ready.push_back(std::move(it->second));
    }
    unsynced_hooks.erase(first_synced, unsynced_hooks.end());
    return ready;
  }

  // Resumes after an earlier write error (RocksDB refuses writes until then).
  absl::Status BeforeWrite() {
    if (read_only) {
      return absl::FailedPreconditionError(
          absl::StrCat("write: database ", path, " is open read-only"));
    }
    if (faults && faults->fail_writes()) {
      return absl::UnavailableError("write: injected write fault (test hook)");
    }
    if (!needs_resume.load(std::memory_order_acquire)) return absl::OkStatus();
    rocksdb::Status s = db->Resume();
    if (!s.ok()) return FromRocks(s, "resume after write error");
    needs_resume.store(false, std::memory_order_release);
    return absl::OkStatus();
  }
  absl::Status AfterWrite(const rocksdb::Status& s, std::string_view what) {
    if (!s.ok() && !s.IsInvalidArgument() && !s.IsNotFound()) {
      needs_resume.store(true, std::memory_order_release);
    }
    return FromRocks(s, what);
  }

  // Adds the operations of `batch` to `wb`.
  absl::Status AddToRocksBatch(const WriteBatch& batch, rocksdb::WriteBatch* wb) const;

  rocksdb::ColumnFamilyHandle* Cf(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  }

  ~Impl() {
    if (db) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
      db->Close().PermitUncheckedError();
      db.reset();
    }
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                   const Options& options) {
  if (options.read_only) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return absl::NotFoundError(absl::StrCat("database ", path, " does not exist"));
    }
  }
  if (options.create_if_missing && !options.read_only) {
    absl::Status s = MakeDirs(path);
    if (!s.ok()) return s;
  }
  auto impl = std::make_unique<Impl>();
  rocksdb::Options db_options = internal::StoreRocksDbOptions(options.block_cache_bytes);
  db_options.create_if_missing = options.create_if_missing && !options.read_only;
  db_options.create_missing_column_families = true;
  if (options.file_system != nullptr) {
    impl->env = rocksdb::NewCompositeEnv(options.file_system);
    db_options.env = impl->env.get();
  }
  // RocksDB's own LOG file, through a logger that notes a damaged WAL.
  std::shared_ptr<CorruptWalNotingLogger> logger;
  if (!options.read_only) {  // a read-only open must not rotate a live server's LOG
    std::shared_ptr<rocksdb::Logger> base;
    rocksdb::Status ls = rocksdb::CreateLoggerFromOptions(path, db_options, &base);
    if (ls.ok()) {
      logger = std::make_shared<CorruptWalNotingLogger>(std::move(base));
      db_options.info_log = logger;
    }
  }

  // Open every existing column family (RocksDB requires it) plus the requested ones.
  std::set<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  std::vector<std::string> existing;
  rocksdb::Status ls = rocksdb::DB::ListColumnFamilies(db_options, path, &existing);
  if (ls.ok()) names.insert(existing.begin(), existing.end());
  for (const auto& cf : options.column_families) {
    if (cf.empty()) return absl::InvalidArgumentError("empty column family name");
    names.insert(cf);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) {
    descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions(db_options));
  }

  impl->faults = options.fault_injector;
  impl->read_only = options.read_only;
  impl->path = path;
  impl->write_options.sync = options.sync_writes;
  rocksdb::DB* raw = nullptr;
  if (options.read_only) {
    // Only the column families that exist; a missing requested one is absent.
    descriptors.clear();
    for (const auto& n : existing) {
      descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions(db_options));
    }
    if (!ls.ok()) return FromRocks(ls, absl::StrCat("open database ", path));
  }
  rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &impl->handles, &raw)
          : rocksdb::DB::Open(db_options, path, descriptors, &impl->handles, &raw);
  if (s.IsCorruption()) {
    return OpenCorruption(s, path, logger != nullptr ? logger->corrupt_wal() : std::string(),
                          db_options);
  }
  if (!s.ok()) return FromRocks(s, absl::StrCat("open database ", path));
  impl->db.reset(raw);
  for (auto* h : impl->handles) impl->by_name.emplace(h->GetName(), h);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

absl::StatusOr<std::string> Store::Get(std::string_view cf, std::string_view key,
                                       const Snapshot* snapshot) const {
  auto* h = impl_->Cf(cf);
  if (h == nullptr) return UnknownCf(cf);
  rocksdb::ReadOptions ro;
  ro.snapshot = RocksSnapshot(snapshot);
  std::string value;
  rocksdb::Status s = impl_->db->Get(ro, h, ToSlice(key), &value);
  if (s.IsNotFound()) return absl::NotFoundError(absl::StrCat("no such key in ", Sv(cf)));
  if (!s.ok()) return FromRocks(s, "get");
  return value;
}

std::vector<absl::StatusOr<std::string>> Store::MultiGet(std::string_view cf,
                                                         const std::vector<std::string>& keys,
                                                         const Snapshot* snapshot) const {
  std::vector<absl::StatusOr<std::string>> out;
  out.reserve(keys.size());
  auto* h = impl_->Cf(cf);
  if (h == nullptr) {
    out.assign(keys.size(), UnknownCf(cf));
    return out;
  }
  rocksdb::ReadOptions ro;
  ro.snapshot = RocksSnapshot(snapshot);
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const std::string& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  impl_->db->MultiGet(ro, h, keys.size(), slices.data(), values.data(), statuses.data());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].IsNotFound()) {
      out.push_back(absl::NotFoundError(absl::StrCat("no such key in ", Sv(cf))));
    } else if (!statuses[i].ok()) {
      out.push_back(FromRocks(statuses[i], "multiget"));
    } else {
      out.push_back(values[i].ToString());
    }
  }
  return out;
}

absl::Status Store::Put(std::string_view cf, std::string_view key, std::string_view value) {
  auto* h = impl_->Cf(cf);
  if (h == nullptr) return UnknownCf(cf);
  std::shared_lock<std::shared_mutex> gate(impl_->write_gate);
  absl::Status r = impl_->BeforeWrite();
  if (!r.ok()) return r;
  return impl_->AfterWrite(impl_->db->Put(impl_->write_options, h, ToSlice(key), ToSlice(value)),
                           "put");
}

absl::Status Store::Delete(std::string_view cf, std::string_view key) {
  auto* h = impl_->Cf(cf);
  if (h == nullptr) return UnknownCf(cf);
  std::shared_lock<std::shared_mutex> gate(impl_->write_gate);
  absl::Status r = impl_->BeforeWrite();
  if (!r.ok()) return r;
  return impl_->AfterWrite(impl_->db->Delete(impl_->write_options, h, ToSlice(key)), "delete");
}

absl::Status Store::Impl::AddToRocksBatch(const WriteBatch& batch, rocksdb::WriteBatch* wb) const {
  for (size_t pos = 0; pos < batch.data_.size();) {
    const char kind = batch.data_[pos++];
    const std::string_view cf = ReadSized(batch.data_, &pos);
    const std::string_view key = ReadSized(batch.data_, &pos);
    const std::string_view value = ReadSized(batch.data_, &pos);
    auto* h = Cf(cf);
    if (h == nullptr) return UnknownCf(cf);
    rocksdb::Status s =
        kind == kDeleteOp ? wb->Delete(h, ToSlice(key)) : wb->Put(h, ToSlice(key), ToSlice(value));
    if (!s.ok()) return FromRocks(s, "write batch");
  }
  return absl::OkStatus();
}

absl::Status Store::Write(WriteBatch batch, Sync sync) {
  // RocksDB's batch needs about as many bytes as ours: reserved at once.
  rocksdb::WriteBatch wb(batch.data_.size());
  absl::Status r = impl_->AddToRocksBatch(batch, &wb);
  if (!r.ok()) return r;
  std::shared_lock<std::shared_mutex> gate(impl_->write_gate);
  r = impl_->BeforeWrite();
  if (!r.ok()) return r;  // the batch settles unwritten as it goes
  rocksdb::WriteOptions options = impl_->write_options;
  if (sync == Sync::kDeferred) options.sync = false;
  r = impl_->AfterWrite(impl_->db->Write(options, &wb), "write");
  impl_->SettleWritten(batch, r, sync == Sync::kDeferred);
  return r;
}

bool Store::sync_writes() const { return impl_->write_options.sync; }

absl::StatusOr<std::vector<bool>> Store::ReplaceIfUnchanged(
    const std::vector<Replacement>& replacements, WriteBatch batch) {
  rocksdb::WriteBatch wb(batch.data_.size());
  absl::Status r = impl_->AddToRocksBatch(batch, &wb);
  if (!r.ok()) return r;
  std::vector<bool> put(replacements.size(), false);
  {
    std::unique_lock<std::shared_mutex> gate(impl_->write_gate);
    for (size_t i = 0; i < replacements.size(); ++i) {
      const Replacement& rep = replacements[i];
      auto* h = impl_->Cf(rep.cf);
      if (h == nullptr) return UnknownCf(rep.cf);
      std::string now;
      rocksdb::Status s = impl_->db->Get(rocksdb::ReadOptions(), h, ToSlice(rep.key), &now);
      if (s.IsNotFound() || (s.ok() && now != rep.expected)) continue;
      if (!s.ok()) return FromRocks(s, "get");
      s = wb.Put(h, ToSlice(rep.key), ToSlice(rep.value));
      if (!s.ok()) return FromRocks(s, "write batch");
      put[i] = true;
    }
    r = impl_->BeforeWrite();
    if (!r.ok()) return r;
    rocksdb::WriteOptions unsynced = impl_->write_options;
    unsynced.sync = false;
    r = impl_->AfterWrite(impl_->db->Write(unsynced, &wb), "write");
  }
  impl_->SettleWritten(batch, r, /*deferred=*/true);
  if (!r.ok()) return r;
  r = SyncWal();
  if (!r.ok()) return r;
  return put;
}

std::unique_ptr<Iterator> Store::ScanFrom(std::string_view cf, std::string_view start) const {
  auto* h = impl_->Cf(cf);
  if (h == nullptr) return std::make_unique<ErrorIterator>(UnknownCf(cf));
  return std::make_unique<PrefixIterator>(impl_->db.get(), h, "", nullptr, start);
}

std::unique_ptr<Iterator> Store::Scan(std::string_view cf, std::string_view prefix,
                                      const Snapshot* snapshot) const {
  auto* h = impl_->Cf(cf);
  if (h == nullptr) return std::make_unique<ErrorIterator>(UnknownCf(cf));
  return std::make_unique<PrefixIterator>(impl_->db.get(), h, prefix, RocksSnapshot(snapshot));
}

std::unique_ptr<Snapshot> Store::GetSnapshot() const {
  return std::make_unique<SnapshotImpl>(impl_->db.get(), impl_->db->GetSnapshot());
}

Store::MemoryUsage Store::Memory() const {
  MemoryUsage m;
  rocksdb::DB& db = *impl_->db;
  uint64_t v = 0;
  if (db.GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &v)) {
    m.memtables = v;
  }
  if (db.GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &v)) {
    m.table_readers = v;
  }
  // The cache is shared: any one family reports all of it.
  if (db.GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &v)) m.block_cache = v;
  return m;
}

absl::Status Store::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocks(impl_->db->Flush(fo, impl_->handles), "flush");
}

absl::Status Store::SyncWal() {
  absl::Status r = impl_->BeforeWrite();
  if (!r.ok()) return r;
  // A write's sequence number is published after its WAL record reached the
  // file, so a sync that starts after `mine` was read covers every write
  // acknowledged before this call.
  const uint64_t mine = impl_->db->GetLatestSequenceNumber();
  std::unique_lock<std::mutex> lock(impl_->sync_mu);
  impl_->sync_cv.wait(lock, [&] { return !impl_->syncing || impl_->synced_seq >= mine; });
  if (impl_->synced_seq < mine) {  // else a sync that started after our writes covered them
    impl_->syncing = true;
    const uint64_t covers = impl_->db->GetLatestSequenceNumber();
    lock.unlock();
    // Again: the fsync we waited for may have failed. After a failed fsync
    // the next one can succeed although the pages were dropped, so never
    // sync past a failure without RocksDB's recovery (Resume) first.
    r = impl_->BeforeWrite();
    if (r.ok()) r = impl_->AfterWrite(impl_->db->FlushWAL(/*sync=*/true), "sync WAL");
    lock.lock();
    impl_->syncing = false;
    if (r.ok()) impl_->synced_seq = std::max(impl_->synced_seq, covers);
    impl_->sync_cv.notify_all();
  }
  std::vector<std::function<void(bool)>> durable = impl_->TakeSyncedHooksLocked();
  lock.unlock();
  for (auto& hook : durable) hook(true);
  return r;
}

absl::Status Store::CompactColumnFamily(std::string_view cf) {
  auto* h = impl_->Cf(cf);
  if (h == nullptr) return UnknownCf(cf);
  rocksdb::FlushOptions fo;
  fo.wait = true;
  absl::Status s = FromRocks(impl_->db->Flush(fo, h), "flush");
  if (!s.ok()) return s;
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
  return FromRocks(impl_->db->CompactRange(co, h, nullptr, nullptr), "compact");
}

std::vector<std::string> Store::ColumnFamilies() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : impl_->by_name) out.push_back(name);
  return out;
}

absl::Status Store::Backup(const std::string& backup_dir) {
  absl::Status s = MakeDirs(backup_dir);
  if (!s.ok()) return s;
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus io = rocksdb::BackupEngine::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!io.ok()) return FromRocks(io, absl::StrCat("open backup engine ", backup_dir));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  rocksdb::CreateBackupOptions opts;
  opts.flush_before_backup = true;
  return FromRocks(engine->CreateNewBackup(opts, impl_->db.get()), "create backup");
}

absl::Status Store::Restore(const std::string& backup_dir, const std::string& db_dir) {
  absl::Status s = MakeDirs(db_dir);
  if (!s.ok()) return s;
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus io = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!io.ok()) return FromRocks(io, absl::StrCat("open backup engine ", backup_dir));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  return FromRocks(engine->RestoreDBFromLatestBackup(db_dir, db_dir), "restore backup");
}

namespace {

absl::Status NoBackupDir(const std::string& backup_dir) {
  struct stat st;
  if (::stat(backup_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat("backup dir ", backup_dir, " does not exist"));
  }
  return absl::OkStatus();
}

// RocksDB's message on one line (an operator's command prints it).
std::string OneLine(const rocksdb::Status& s) {
  std::string m = s.ToString();
  for (char& c : m) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return m;
}

// The backups of `engine`, oldest first. NOT_FOUND if none; DATA_LOSS if
// RocksDB found a backup whose metadata does not read.
absl::StatusOr<std::vector<rocksdb::BackupInfo>> ListBackups(
    const rocksdb::BackupEngineReadOnlyBase& engine, const std::string& backup_dir) {
  std::vector<rocksdb::BackupID> corrupt;
  engine.GetCorruptedBackups(&corrupt);
  if (!corrupt.empty()) {
    rocksdb::BackupInfo info;
    rocksdb::Status why = engine.GetBackupInfo(corrupt.front(), &info);
    return absl::DataLossError(absl::StrCat("backup ", corrupt.front(), " in ", backup_dir,
                                            " is damaged: ", OneLine(why)));
  }
  std::vector<rocksdb::BackupInfo> infos;
  engine.GetBackupInfo(&infos);
  if (infos.empty()) {
    return absl::NotFoundError(absl::StrCat("backup dir ", backup_dir, " holds no backup"));
  }
  return infos;
}

Store::BackupSummary Summary(const rocksdb::BackupInfo& info) {
  Store::BackupSummary out;
  out.id = info.backup_id;
  out.unix_seconds = info.timestamp;
  out.size_bytes = info.size;
  out.files = info.number_files;
  return out;
}

}  // namespace

absl::StatusOr<std::vector<Store::BackupSummary>> Store::VerifyBackups(
    const std::string& backup_dir) {
  absl::Status exists = NoBackupDir(backup_dir);
  if (!exists.ok()) return exists;
  rocksdb::BackupEngineReadOnly* raw = nullptr;
  rocksdb::IOStatus io = rocksdb::BackupEngineReadOnly::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (io.IsNotFound()) {  // no "meta" directory: nothing was ever backed up here
    return absl::NotFoundError(absl::StrCat("backup dir ", backup_dir, " holds no backup"));
  }
  if (!io.ok()) return FromRocks(io, absl::StrCat("open backup engine ", backup_dir));
  std::unique_ptr<rocksdb::BackupEngineReadOnly> engine(raw);
  absl::StatusOr<std::vector<rocksdb::BackupInfo>> infos = ListBackups(*engine, backup_dir);
  if (!infos.ok()) return infos.status();
  std::vector<BackupSummary> out;
  for (const rocksdb::BackupInfo& info : *infos) {
    io = engine->VerifyBackup(info.backup_id, /*verify_with_checksum=*/true);
    if (!io.ok()) {
      return absl::DataLossError(
          absl::StrCat("backup ", info.backup_id, " in ", backup_dir, ": ", OneLine(io)));
    }
    out.push_back(Summary(info));
  }
  return out;
}

absl::StatusOr<std::vector<Store::BackupSummary>> Store::RewriteBackups(
    const std::string& backup_dir, const std::string& scratch_dir, const Options& options,
    const std::vector<std::string>& compact,
    const std::function<absl::Status(Store& restored)>& edit) {
  // Refuse a damaged backup before changing anything.
  absl::StatusOr<std::vector<BackupSummary>> before = VerifyBackups(backup_dir);
  if (!before.ok()) return before.status();
  struct stat st;
  if (::lstat(scratch_dir.c_str(), &st) == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("scratch dir ", scratch_dir,
                     " exists (left by an interrupted run? it may hold restored data: remove "
                     "it, then run again)"));
  }
  absl::Status s = MakeDirs(scratch_dir);
  if (!s.ok()) return s;
  rocksdb::BackupEngine* raw = nullptr;
  rocksdb::IOStatus io = rocksdb::BackupEngine::Open(
      rocksdb::Env::Default(), rocksdb::BackupEngineOptions(backup_dir), &raw);
  if (!io.ok()) return FromRocks(io, absl::StrCat("open backup engine ", backup_dir));
  std::unique_ptr<rocksdb::BackupEngine> engine(raw);
  absl::StatusOr<std::vector<rocksdb::BackupInfo>> old = ListBackups(*engine, backup_dir);
  if (!old.ok()) return old.status();

  for (const rocksdb::BackupInfo& info : *old) {
    const std::string dir = absl::StrCat(scratch_dir, "/", info.backup_id);
    io = engine->RestoreDBFromBackup(rocksdb::RestoreOptions(), info.backup_id, dir, dir);
    if (!io.ok()) return FromRocks(io, absl::StrCat("restore backup ", info.backup_id));
    Options open = options;
    open.create_if_missing = false;
    open.read_only = false;
    absl::StatusOr<std::unique_ptr<Store>> store = Open(dir, open);
    if (!store.ok()) return store.status();
    s = edit(**store);
    if (!s.ok()) return s;
    for (const std::string& cf : compact) {
      s = (*store)->CompactColumnFamily(cf);
      if (!s.ok()) return s;
    }
    rocksdb::CreateBackupOptions opts;
    opts.flush_before_backup = true;
    io = engine->CreateNewBackupWithMetadata(opts, (*store)->impl_->db.get(), info.app_metadata);
    if (!io.ok()) return FromRocks(io, "create backup");
    store->reset();
    s = RemoveTree(dir);
    if (!s.ok()) return s;
  }
  for (const rocksdb::BackupInfo& info : *old) {
    io = engine->DeleteBackup(info.backup_id);
    if (!io.ok()) return FromRocks(io, absl::StrCat("delete backup ", info.backup_id));
  }
  io = engine->GarbageCollect();
  if (!io.ok()) return FromRocks(io, "remove unused backup files");
  engine.reset();
  s = RemoveTree(scratch_dir);
  if (!s.ok()) return s;
  return VerifyBackups(backup_dir);
}

const std::string& Store::path() const { return impl_->path; }

}  // namespace budstikke::storage
