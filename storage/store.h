// Store: the one RocksDB database of a Budstikke process, one column family per
// record kind. Nothing above storage/ includes a RocksDB header; this class is
// the boundary and converts rocksdb::Status to absl::Status:
//   NotFound -> NOT_FOUND, Corruption -> DATA_LOSS, IOError/Busy/TryAgain ->
//   UNAVAILABLE, InvalidArgument -> INVALID_ARGUMENT, others -> INTERNAL.
//
// Thread safety: all methods are safe to call concurrently (RocksDB's own
// guarantees). A WriteBatch is not thread-safe; build it on one thread.
//
// Durability: Write() is acknowledged after the WAL write; with
// Options::sync_writes the WAL is fsynced first (survives power loss). After
// a write fails with an I/O error (RocksDB then refuses writes), the next write
// attempt calls DB::Resume() first; if that fails the write is UNAVAILABLE.
#ifndef BUDSTIKKE_STORAGE_STORE_H_
#define BUDSTIKKE_STORAGE_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class FileSystem;
}

namespace budstikke::storage {

class Store;

// For the operator, after DATA_LOSS from a damaged file (RocksDB's checksums
// or table checks: the message holds "Corruption: "): `s`'s message with
// "; the data dir is damaged: restore the data dir from a backup
// (docs/OPERATIONS.md, "Corruption")" added once. Other statuses' messages
// unchanged. Store::Open's refusals already carry it.
std::string WithCorruptionAdvice(const absl::Status& s);

// Test hook (fault injection): while SetFailWrites(true), every Put, Delete
// and Write of a Store opened with it fails with UNAVAILABLE ("injected write
// fault") before reaching RocksDB; reads keep working; writes go through again
// once it is cleared. Thread-safe; share one with Store::Options.
//
// (A rocksdb::FileSystemWrapper failing WAL appends was tried first: RocksDB
// 7.8's Resume() keeps the failed WAL writer, and the next write aborts on an
// assertion in Debian's build, so the fault is injected above RocksDB.)
class FaultInjector {
 public:
  void SetFailWrites(bool fail) { fail_writes_.store(fail, std::memory_order_release); }
  bool fail_writes() const { return fail_writes_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> fail_writes_{false};
};

// A set of puts and deletes applied atomically by Store::Write.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(std::string_view cf, std::string_view key, std::string_view value);
  void Delete(std::string_view cf, std::string_view key);
  // Number of operations added so far.
  int Count() const;

  // Runs `hook` exactly once when the batch is settled: with true after
  // Store::Write wrote it (with Store::Sync::kDeferred in a store opened with
  // sync_writes: after the SyncWal() that made it durable), with false when
  // the write failed or the batch was destroyed unwritten. (A transactional outbox uses it to know
  // which of its sequence numbers can still appear; services/common/outbox_sequence.h.) Moved with
  // the batch.
  void OnSettled(std::function<void(bool written)> hook);

 private:
  friend class Store;
  void Settle(bool written);
  std::vector<std::function<void(bool)>> TakeHooks();
  // The operations one after another in one buffer, so adding one allocates
  // nothing most of the time: u8 kind (0 put, 1 delete), then column family,
  // key and value (empty for a delete), each as u32 size and bytes.
  void Append(char kind, std::string_view cf, std::string_view key, std::string_view value);
  std::string data_;
  int count_ = 0;
  std::vector<std::function<void(bool)>> hooks_;
};

// A consistent read view; release by destroying it (before the Store).
class Snapshot {
 public:
  virtual ~Snapshot() = default;
};

// Forward iteration over the keys of one column family that start with a
// prefix, in byte order.
class Iterator {
 public:
  virtual ~Iterator() = default;
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  // Positions at the first key >= target (target must start with the prefix).
  virtual void Seek(std::string_view target) = 0;
  // Positions at the last key with the prefix (not Valid() if there is none).
  virtual void SeekToLast() = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Non-OK if iteration stopped because of an error rather than the end.
  virtual absl::Status status() const = 0;
};

class Store {
 public:
  struct Options {
    // Column families to open (created if missing). "default" always exists.
    std::vector<std::string> column_families;
    bool sync_writes = false;
    bool create_if_missing = true;
    // One LRU block cache shared by every column family.
    size_t block_cache_bytes = 64u << 20;
    // Test hook: file writes fail while it says so (see FaultInjector).
    std::shared_ptr<FaultInjector> fault_injector;
    // Test hook: the file system RocksDB works through (null: the default,
    // POSIX). storage/testing/power_loss_fs.h simulates a power loss with it.
    std::shared_ptr<rocksdb::FileSystem> file_system;
    // Opens without taking the database's lock, also while another process
    // writes to it (RocksDB's read-only mode: the view of the moment of
    // opening). Every write fails with FAILED_PRECONDITION. Never creates.
    bool read_only = false;
  };

  // One backup in a backup directory (RocksDB BackupEngine).
  struct BackupSummary {
    uint32_t id = 0;
    int64_t unix_seconds = 0;  // when it was made
    uint64_t size_bytes = 0;   // of its files
    uint32_t files = 0;
  };

  // Opens (or creates) the database in `path`, a directory created with mode
  // 0700 if missing. Fails with UNAVAILABLE if another process holds it.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path,
                                                     const Options& options);
  ~Store();

  // NOT_FOUND if absent. An unknown column family is INVALID_ARGUMENT.
  absl::StatusOr<std::string> Get(std::string_view cf, std::string_view key,
                                  const Snapshot* snapshot = nullptr) const;
  // Get of many keys of one column family in one call (RocksDB batches the
  // block reads): one result per key, in order.
  std::vector<absl::StatusOr<std::string>> MultiGet(std::string_view cf,
                                                    const std::vector<std::string>& keys,
                                                    const Snapshot* snapshot = nullptr) const;
  absl::Status Put(std::string_view cf, std::string_view key, std::string_view value);
  absl::Status Delete(std::string_view cf, std::string_view key);
  // How a write reaches the disk. kDeferred: written without an fsync also
  // with Options::sync_writes; the caller must then call SyncWal() and
  // acknowledge the write only after it returns OK (the batch's OnSettled
  // hooks run then). For a writer that holds a lock around the write (to
  // keep an order) but must not hold it across the fsync: concurrent
  // SyncWal() calls share one fsync.
  enum class Sync { kAsOpened, kDeferred };
  absl::Status Write(WriteBatch batch, Sync sync = Sync::kAsOpened);
  // Options::sync_writes as opened.
  bool sync_writes() const;

  // Check-and-set for background rewriters (the key rewrap): puts each
  // replacement whose key still holds `expected`, together with `batch`, in
  // one atomic write, and returns per replacement whether it was put. The
  // check and the write hold a lock that every Put, Delete and Write of this
  // Store shares, so a value written in between is never overwritten with
  // stale data; a replaced key that is gone stays gone. Written without sync;
  // the WAL is synced after the lock is released.
  struct Replacement {
    std::string cf, key, expected, value;
  };
  absl::StatusOr<std::vector<bool>> ReplaceIfUnchanged(const std::vector<Replacement>& replacements,
                                                       WriteBatch batch);

  std::unique_ptr<Iterator> Scan(std::string_view cf, std::string_view prefix,
                                 const Snapshot* snapshot = nullptr) const;
  // Every key >= `start` of the column family, positioned there directly (a
  // queue whose head was deleted: Scan(cf, "") would first walk over the
  // delete tombstones below `start`).
  std::unique_ptr<Iterator> ScanFrom(std::string_view cf, std::string_view start) const;
  std::unique_ptr<Snapshot> GetSnapshot() const;

  // Memory RocksDB holds for this store, in bytes (RocksDB's own estimates,
  // read when called): memtables (all column families, under one budget),
  // table readers (the index and filter blocks each open SST file keeps
  // outside the block cache: they grow with the data) and the shared block
  // cache's use.
  struct MemoryUsage {
    uint64_t memtables = 0;
    uint64_t table_readers = 0;
    uint64_t block_cache = 0;
  };
  MemoryUsage Memory() const;

  // Flushes memtables to SST files (tests and backups use it).
  absl::Status Flush();
  // Makes every write acknowledged so far durable (fsync of the WAL), also
  // when the store was opened without sync_writes. The audit log calls it
  // before it signs a checkpoint. Group sync: callers that arrive while an
  // fsync runs wait for it and then share one more (or none, if one that
  // started after their writes already covered them).
  absl::Status SyncWal();
  // Flushes `cf` and compacts all of it down to the bottommost level, so that
  // deleted and overwritten values are dropped from the files (key shredding
  // uses it). Values still held by a live Snapshot survive.
  absl::Status CompactColumnFamily(std::string_view cf);
  // Names of all open column families (including "default"), sorted.
  std::vector<std::string> ColumnFamilies() const;
  // Writes a consistent backup into `backup_dir` (RocksDB BackupEngine).
  absl::Status Backup(const std::string& backup_dir);
  // Restores the latest backup in `backup_dir` into `db_dir` (must not be open).
  static absl::Status Restore(const std::string& backup_dir, const std::string& db_dir);
  // Checks every backup in `backup_dir`: each of its files is present, has
  // the recorded size and the recorded checksum (crc32c over every byte).
  // Returns the backups, oldest first. NOT_FOUND if the directory holds no
  // backup; DATA_LOSS naming the backup (and RocksDB's reason: the file) if
  // one is damaged or missing a file.
  static absl::StatusOr<std::vector<BackupSummary>> VerifyBackups(const std::string& backup_dir);
  // Rewrites every backup in `backup_dir` through `edit` (backups are
  // immutable): oldest first, each is restored into a new directory under
  // `scratch_dir` (created 0700, must not exist: FAILED_PRECONDITION; removed
  // at the end), opened with `options`, handed to `edit`, the column families
  // in `compact` compacted to the bottommost level (so values that `edit`
  // overwrote or deleted are gone from the files), and backed up again (same
  // application metadata, so the order of the backups stays). Then the old
  // backups are deleted, files no backup uses any more removed, and the new
  // backups verified (VerifyBackups). Interrupted, the directory holds the old
  // backups, or old and new ones (run again), never none. Returns the new
  // backups. NOT_FOUND if the directory holds no backup; DATA_LOSS if one is
  // damaged (nothing is changed then).
  static absl::StatusOr<std::vector<BackupSummary>> RewriteBackups(
      const std::string& backup_dir, const std::string& scratch_dir, const Options& options,
      const std::vector<std::string>& compact,
      const std::function<absl::Status(Store& restored)>& edit);

  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace budstikke::storage

#endif  // BUDSTIKKE_STORAGE_STORE_H_
