// PowerLossFileSystem: a test file system for Store that simulates a power
// loss (issue 20, "Durable by default"). It wraps RocksDB's default (POSIX)
// file system, lets every call through, and remembers what a power loss would
// keep, in the manner of RocksDB's own fault-injection file systems
// (FaultInjectionTestFS / FaultInjectionTestEnv, which Debian does not ship):
//
//  - file data: for every file opened for writing through it, the size at
//    its last Sync or Fsync. Data appended after that is lost. Close,
//    Flush and RangeSync (sync_file_range: no metadata, no guarantee) make
//    nothing durable.
//  - directory entries: a file created, or a rename, in a directory is
//    durable only once that directory is Fsynced (FSDirectory::Fsync). A
//    power loss deletes the files created since, and undoes the renames
//    since in reverse order: the file gets its old name back and the name it
//    replaced gets its old content back (kept in memory at the rename).
//
// CutPower() is the instant of the power loss: from then on nothing becomes
// durable, but every call still succeeds (no error reaches RocksDB, so the
// process runs on as a machine would until its power is really gone; what it
// does afterwards is lost). Deletes, renames and truncations after the cut
// do nothing (they could not reach the disk), and creating a file over an
// existing one is refused (UNAVAILABLE in the store) rather than losing its
// durable content. A write acknowledged while powered() is true was made
// durable before the cut; one acknowledged after is the reply a client never
// received. Then the test destroys every Store using it (without a clean
// shutdown reaching the disk) and calls SimulatePowerLoss(), which changes the
// files on disk to what survived and powers up again, ready for a reopen.
//
// Not modelled (documented in docs/TESTING.md): a delete is durable at once
// (a deleted file never comes back); renames across directories (RocksDB
// renames within one); torn or reordered writes within the unsynced tail
// (the tail is dropped whole); files written with NewRandomRWFile; the data
// dir itself and files written outside RocksDB (storage::WriteFileDurably
// fsyncs the file and the directory, so they are durable by construction).
//
// Thread-safe. Nothing here includes a RocksDB header; Store::Options takes
// file_system().
#ifndef BUDSTIKKE_STORAGE_TESTING_POWER_LOSS_FS_H_
#define BUDSTIKKE_STORAGE_TESTING_POWER_LOSS_FS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace rocksdb {
class FileSystem;
}

namespace budstikke::storage::testing {

class PowerLossFileSystem {
 public:
  // What the last SimulatePowerLoss changed on disk.
  struct LossReport {
    int files_truncated = 0;     // cut back to their last synced size
    uint64_t bytes_dropped = 0;  // appended but never synced
    int files_removed = 0;       // created since their directory's last Fsync
    int renames_undone = 0;
  };

  PowerLossFileSystem();
  ~PowerLossFileSystem();
  PowerLossFileSystem(const PowerLossFileSystem&) = delete;
  PowerLossFileSystem& operator=(const PowerLossFileSystem&) = delete;

  // For Store::Options::file_system.
  std::shared_ptr<rocksdb::FileSystem> file_system() const;

  // The power goes out now (see the file comment).
  void CutPower();
  // False from CutPower() until the next SimulatePowerLoss().
  bool powered() const;

  // Call after every Store opened on it is destroyed: drops what was not
  // durable at the cut (or now, if the power was never cut), forgets all
  // tracking and powers up. UNAVAILABLE naming the file if a change fails.
  absl::Status SimulatePowerLoss();
  LossReport last_loss() const;
  // File Syncs and Fsyncs so far (while powered): with concurrent writers
  // fewer than their acknowledged writes (group commit).
  uint64_t file_syncs() const;
  // While held, every file Sync and Fsync waits before it starts (so a test
  // can keep an fsync in flight and see what other writers do meanwhile);
  // syncs_held() is how many wait now.
  void HoldSyncs(bool hold);
  int syncs_held() const;

 private:
  class Fs;
  std::shared_ptr<Fs> fs_;
};

// Holds the file syncs of a PowerLossFileSystem while a test starts writers
// (one thread each), then releases them: the way to keep one fsync in flight
// and see what the other writers do meanwhile.
//
//   SyncHold hold(&plfs);
//   hold.Spawn([&] { first = WriteAndSync("a"); });
//   ASSERT_TRUE(hold.AwaitHeld(1));  // the first fsync waits
//   for (...) hold.Spawn(...);       // they write meanwhile
//   hold.Release();                  // syncs go on, every thread joined
//
// The destructor releases too, so an ASSERT that returns early neither
// leaves a joinable thread nor a held sync.
class SyncHold {
 public:
  explicit SyncHold(PowerLossFileSystem* fs);
  ~SyncHold();
  SyncHold(const SyncHold&) = delete;
  SyncHold& operator=(const SyncHold&) = delete;

  void Spawn(std::function<void()> fn);
  // True once `n` syncs wait (within 20 s).
  bool AwaitHeld(int n) const;
  // Lets the syncs go on and joins every spawned thread. Idempotent.
  void Release();

 private:
  PowerLossFileSystem* fs_;
  std::vector<std::thread> threads_;
};

// Polls `done` every millisecond for up to 20 s; returns its last answer.
bool WaitUntil(const std::function<bool()>& done);

}  // namespace budstikke::storage::testing

#endif  // BUDSTIKKE_STORAGE_TESTING_POWER_LOSS_FS_H_
